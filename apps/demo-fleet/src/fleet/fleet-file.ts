import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { subjectToken } from '@autoheal/contracts';

/**
 * The demo fleet: tenants, their compliance profile in brief, and the instances the agent runs
 * for them. The decision service reads the same file for its tenant profiles, so the fields here
 * are the agreed ones; the agent only needs tenants, services and instances.
 */
export const COMPLIANCE_FRAMEWORKS = ['HIPAA', 'PCI_DSS', 'GDPR', 'SOC2'] as const;

/** The release name `rollback` takes to mean "the one before the current", so no release may be called that. */
export const PREVIOUS_RELEASE = 'previous';

/**
 * One release of a service the agent can run. `command` is the program and its arguments
 * (absent: the agent's api-server under node); `env` is added to the instance's environment.
 * Every instance also gets `RELEASE_VERSION=<version>`. A `staged` release is declared but not
 * rolled out: no instance starts on it; `chaos release` rolls it out to one instance.
 */
const release = z
  .object({
    version: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 of A-Z a-z 0-9 . _ - (a release version)')
      .refine((v) => v !== PREVIOUS_RELEASE, `"${PREVIOUS_RELEASE}" is reserved (rollback's "the one before the current")`),
    command: z.array(z.string().min(1)).min(1).optional(),
    env: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name'), z.string()).optional(),
    staged: z.boolean().optional(),
  })
  .strict();

export type Release = z.infer<typeof release>;

/** A service that declares no releases runs this one, and has nothing to roll back to. */
export const INITIAL_RELEASE: Release = { version: 'initial' };

/** The demo fleet's own agent: every service the file does not give to another. */
export const DEMO_AGENT_ID = 'demo-fleet';

const agentId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ - (an agent id)');

const fleetService = z
  .object({
    service: subjectToken,
    instances: z.array(subjectToken).min(1),
    /** The service's release history, oldest first; instances start on the last that is not staged. */
    releases: z.array(release).min(1).optional(),
    /**
     * Extra processes of the service's current release the agent keeps started and ready, taking no
     * traffic, to switch an instance's front to when it is healed. Declaring it (0 included) gives
     * every instance of the service a front port the agent owns.
     */
    warmSpares: z.number().int().min(0).max(8).optional(),
    /** The host agent running the instances (a host of its own, which the demo can lose); absent: the demo fleet's agent. */
    agentId: agentId.optional(),
    /**
     * The service's standby, kept by another agent in another region: `instances` named as the
     * primary's they stand in for (apps/agent README, *Failover*), started on a failover (`cold`).
     */
    standby: z.object({ agentId, region: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and - (a region name)'), instances: z.array(subjectToken).min(1) }).strict().optional(),
  })
  .strict()
  .superRefine((service, ctx) => {
    if (service.releases && service.releases.every((r) => r.staged)) {
      ctx.addIssue({ code: 'custom', path: ['releases'], message: 'every release is staged: the instances would have none to start on' });
    }
    if (service.standby && service.standby.agentId === (service.agentId ?? DEMO_AGENT_ID)) {
      ctx.addIssue({ code: 'custom', path: ['standby', 'agentId'], message: 'the standby must be kept by another agent than the one running the service (a lost host takes both)' });
    }
    service.standby?.instances.forEach((name, i) => {
      if (!service.instances.includes(name)) ctx.addIssue({ code: 'custom', path: ['standby', 'instances', i], message: `${name} is not an instance of the service (a standby instance is named as the one it stands in for)` });
    });
    const seen = new Set<string>();
    service.releases?.forEach((r, i) => {
      if (seen.has(r.version)) ctx.addIssue({ code: 'custom', path: ['releases', i, 'version'], message: `duplicate release ${r.version}` });
      seen.add(r.version);
    });
  });

// Other readers of the file (the decision service) may keep more profile fields per tenant.
const fleetTenant = z.looseObject({
    tenantId: subjectToken,
    displayName: z.string().min(1).max(200),
    // Empty: a tenant under no framework (its residency, if any, set by contract in its tenant document).
    frameworks: z.array(z.enum(COMPLIANCE_FRAMEWORKS)),
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

/** Where a service is known: tenant and service. */
export function serviceKey(ref: Pick<InstanceRef, 'tenantId' | 'service'>): string {
  return `${ref.tenantId}/${ref.service}`;
}

/** Each service's release history, oldest first, by serviceKey. */
export function fleetReleases(fleet: FleetFile): Map<string, Release[]> {
  return new Map(
    fleet.tenants.flatMap((tenant) =>
      tenant.services.map((service) => [serviceKey({ tenantId: tenant.tenantId, service: service.service }), service.releases ?? [INITIAL_RELEASE]] as const),
    ),
  );
}

/** The release a service's instances start on: the last one of its history that is not staged. */
export function startingRelease(history: readonly Release[]): Release {
  return history.findLast((r) => !r.staged) ?? INITIAL_RELEASE;
}

/** Every instance in file order: tenants, then services, then instances. */
export function fleetInstances(fleet: FleetFile): InstanceRef[] {
  return fleet.tenants.flatMap((tenant) =>
    tenant.services.flatMap((service) =>
      service.instances.map((instance) => ({ tenantId: tenant.tenantId, service: service.service, instance })),
    ),
  );
}

/** The services that declare `warmSpares` (0 included), by serviceKey: their instances get a front the agent owns. */
export function fleetWarmSpares(fleet: FleetFile): Map<string, number> {
  return new Map(
    fleet.tenants.flatMap((tenant) =>
      tenant.services
        .filter((service) => service.warmSpares !== undefined)
        .map((service) => [serviceKey({ tenantId: tenant.tenantId, service: service.service }), service.warmSpares ?? 0] as const),
    ),
  );
}

/** Every agent the fleet runs: the demo fleet's own (when it runs anything), then each host and standby agent the file names, in file order. */
export function fleetAgentIds(fleet: FleetFile): string[] {
  const ids = new Set<string>();
  if (fleet.tenants.some((t) => t.services.some((s) => (s.agentId ?? DEMO_AGENT_ID) === DEMO_AGENT_ID))) ids.add(DEMO_AGENT_ID);
  for (const tenant of fleet.tenants) {
    for (const service of tenant.services) {
      ids.add(service.agentId ?? DEMO_AGENT_ID);
      if (service.standby) ids.add(service.standby.agentId);
    }
  }
  return [...ids];
}
