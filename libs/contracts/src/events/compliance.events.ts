import { z } from 'zod';
import { subjectToken } from '../subject-token.js';
import { remediationAction } from './remediation.events.js';

/** An action the policy would have taken was refused for a compliance reason. */
export const complianceActionRefusedData = z
  .object({
    incidentId: z.uuid(),
    service: subjectToken,
    instance: subjectToken,
    action: remediationAction,
    rule: z.string().min(1),
    reason: z.string().min(1),
    policyVersion: z.string().min(1),
  })
  .strict();

/** A tenant document was applied: a new policy version is in force. */
export const compliancePolicyChangedData = z
  .object({
    policyVersion: z.string().min(1),
    previousVersion: z.string().min(1).nullable(),
    changedBy: z.string().min(1),
    /** Dotted paths of what changed, e.g. `profile.maxAutoActionsPerHour`. */
    changes: z.array(z.object({ path: z.string(), from: z.unknown().optional(), to: z.unknown().optional() }).strict()),
    /**
     * The effective profile's measurable thresholds under the new version (frameworks' presets
     * tightened by the overrides): carried in the event so that the audit trail alone says what a
     * compliance report measures against. Absent on events from before it was added.
     */
    thresholds: z
      .object({ availabilityTarget: z.number().gt(0).lt(1), maxTimeToRemediateMs: z.number().int().positive() })
      .strict()
      .optional(),
  })
  .strict();

/** An open incident is close to exceeding the tenant's maximum time to remediate. */
export const complianceTtrAtRiskData = z
  .object({
    incidentId: z.uuid(),
    service: subjectToken,
    instance: z.union([subjectToken, z.literal('*')]),
    openedAt: z.iso.datetime(),
    deadlineAt: z.iso.datetime(),
    maxTimeToRemediateMs: z.number().int().positive(),
    policyVersion: z.string().min(1),
  })
  .strict();

/** A compliance threshold was breached. */
export const complianceBreachData = z
  .object({
    rule: z.enum(['time_to_remediate', 'availability']),
    incidentId: z.uuid().optional(),
    service: subjectToken.optional(),
    observed: z.number(),
    threshold: z.number(),
    windowMs: z.number().int().positive().optional(),
    reason: z.string().min(1),
    policyVersion: z.string().min(1),
  })
  .strict();

/**
 * Which breaker: `tenant` — the tenant's own, opened by a storm on its declared inventory; it
 * stops that tenant's automatic actions only and is announced to that tenant only. `global` —
 * opened on evidence across tenants; it stops every tenant's and is announced to every tenant.
 * Absent (events before tenant breakers existed) means `global`.
 */
export const breakerScope = z.enum(['tenant', 'global']);

/** A circuit breaker opened: autoheal takes no automatic action for the tenant until a human resumes it. */
export const complianceBreakerOpenedData = z
  .object({
    reason: z.string().min(1),
    openedAt: z.iso.datetime(),
    /** The incident whose arrival tripped it. */
    incidentId: z.uuid(),
    scope: breakerScope.optional(),
  })
  .strict();

/** A human resumed automatic actions; sent to the tenants the opening was sent to. */
export const complianceBreakerResumedData = z
  .object({
    scope: breakerScope.optional(),
    resumedBy: z.string().min(1),
    reason: z.string().min(1),
    resumedAt: z.iso.datetime(),
    /** Why it had opened, and when. */
    openedReason: z.string().min(1).nullable(),
    openedAt: z.iso.datetime().nullable(),
  })
  .strict();

export type CompliancePolicyChangedData = z.infer<typeof compliancePolicyChangedData>;
export type ComplianceTtrAtRiskData = z.infer<typeof complianceTtrAtRiskData>;
export type ComplianceBreachData = z.infer<typeof complianceBreachData>;
export type BreakerScope = z.infer<typeof breakerScope>;
export type ComplianceActionRefusedData = z.infer<typeof complianceActionRefusedData>;
