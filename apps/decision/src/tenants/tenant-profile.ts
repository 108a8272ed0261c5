import { z } from 'zod';
import { subjectToken } from '@autoheal/contracts';

/**
 * A tenant and its compliance profile, as the tenants file declares it. Unknown keys are
 * dropped, so the profile (and so its policy version) holds only what the policy reads.
 */
export const tenantProfileSchema = z.object({
  tenantId: subjectToken,
  displayName: z.string().min(1).max(200).optional(),
  /** HIPAA, PCI DSS, GDPR, SOC 2 …: named in reasons so that a refusal says which regime it serves. */
  frameworks: z.array(z.string().min(1)),
  maxAutoActionsPerHour: z.number().int().nonnegative(),
  /** Actions the policy may take without a human. Anything else escalates. */
  autoActions: z.array(z.string().min(1)),
  services: z.array(
    z.object({
      service: subjectToken,
      instances: z.array(subjectToken),
    }),
  ),
});

export const tenantsFileSchema = z
  .object({ tenants: z.array(tenantProfileSchema) })
  .superRefine((file, ctx) => {
    const seen = new Map<string, number>();
    file.tenants.forEach((tenant, index) => {
      const first = seen.get(tenant.tenantId);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['tenants', index, 'tenantId'], message: `duplicate tenantId ${tenant.tenantId} (first at tenants.${first})` });
      } else {
        seen.set(tenant.tenantId, index);
      }
    });
  });

export type TenantProfile = z.infer<typeof tenantProfileSchema>;
