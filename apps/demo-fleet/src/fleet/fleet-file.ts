import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { subjectToken } from '@autoheal/contracts';

/**
 * The demo fleet: tenants, their compliance profile in brief, and the instances the agent runs
 * for them. The decision service reads the same file for its tenant profiles, so the fields here
 * are the agreed ones; the agent only needs tenants, services and instances.
 */
export const COMPLIANCE_FRAMEWORKS = ['HIPAA', 'PCI_DSS', 'GDPR', 'SOC2'] as const;

const fleetService = z
  .object({
    service: subjectToken,
    instances: z.array(subjectToken).min(1),
  })
  .strict();

// Other readers of the file (the decision service) may keep more profile fields per tenant.
const fleetTenant = z.looseObject({
    tenantId: subjectToken,
    displayName: z.string().min(1).max(200),
    frameworks: z.array(z.enum(COMPLIANCE_FRAMEWORKS)).min(1),
    maxAutoActionsPerHour: z.number().int().nonnegative(),
    autoActions: z.array(z.string().min(1)),
    services: z.array(fleetService).min(1),
});

export const fleetFile = z
  .looseObject({ tenants: z.array(fleetTenant).min(1) })
  .superRefine((fleet, ctx) => {
    const tenants = new Set<string>();
    const instances = new Set<string>();
    fleet.tenants.forEach((tenant, t) => {
      if (tenants.has(tenant.tenantId)) {
        ctx.addIssue({ code: 'custom', path: ['tenants', t, 'tenantId'], message: `duplicate tenant ${tenant.tenantId}` });
      }
      tenants.add(tenant.tenantId);
      tenant.services.forEach((service, s) => {
        service.instances.forEach((instance, i) => {
          const key = instanceKey({ tenantId: tenant.tenantId, service: service.service, instance });
          if (instances.has(key)) {
            ctx.addIssue({
              code: 'custom',
              path: ['tenants', t, 'services', s, 'instances', i],
              message: `duplicate instance ${key}`,
            });
          }
          instances.add(key);
        });
      });
    });
  });

export type FleetFile = z.infer<typeof fleetFile>;
export type FleetTenant = FleetFile['tenants'][number];

/** One process the agent runs. */
export interface InstanceRef {
  tenantId: string;
  service: string;
  instance: string;
}

export function instanceKey(ref: InstanceRef): string {
  return `${ref.tenantId}/${ref.service}/${ref.instance}`;
}

export class FleetFileError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid fleet file ${source}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'FleetFileError';
  }
}

/** Validates parsed JSON; the error lists every problem at once. */
export function parseFleetFile(raw: unknown, source = 'fleet file'): FleetFile {
  const result = fleetFile.safeParse(raw);
  if (!result.success) {
    throw new FleetFileError(
      source,
      result.error.issues.map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`),
    );
  }
  return result.data;
}

export function loadFleetFile(path: string): FleetFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new FleetFileError(path, [error instanceof Error ? error.message : String(error)]);
  }
  return parseFleetFile(raw, path);
}

/** Every instance in file order: tenants, then services, then instances. */
export function fleetInstances(fleet: FleetFile): InstanceRef[] {
  return fleet.tenants.flatMap((tenant) =>
    tenant.services.flatMap((service) =>
      service.instances.map((instance) => ({ tenantId: tenant.tenantId, service: service.service, instance })),
    ),
  );
}
