import { z } from 'zod';
import { subjectToken } from '../subject-token.js';

/**
 * restart the process; replace it with a fresh instance; scale_out the service; failover to a
 * standby; rollback the last deployment; throttle incoming traffic.
 */
export const remediationAction = z.enum(['restart', 'replace', 'scale_out', 'failover', 'rollback', 'throttle']);

const target = {
  remediationId: z.uuid(),
  incidentId: z.uuid(),
  service: subjectToken,
  instance: subjectToken,
  action: remediationAction,
};

/** Every candidate the policy looked at, and why it was or was not chosen. */
export const candidateConsidered = z
  .object({ action: remediationAction, allowed: z.boolean(), reason: z.string() })
  .strict();

/** What the policy looked at to decide, kept with the decision for the auditor. */
const explanation = {
  policyVersion: z.string().min(1),
  reason: z.string().min(1),
  candidates: z.array(candidateConsidered),
  /** Inputs the policy used (profile thresholds, counters, windows), as it saw them. */
  inputs: z.record(z.string(), z.unknown()).optional(),
};

export const remediationPlannedData = z
  .object({
    ...target,
    ...explanation,
    /** Allowed candidates to try, in order, if verification of this one fails. */
    fallbacks: z.array(remediationAction).optional(),
    /** Recorded but not to be executed (tenant or playbook in dry-run mode). */
    dryRun: z.boolean().optional(),
    /** Allowed during a change freeze because the playbook marks the action as emergency. */
    emergency: z.boolean().optional(),
  })
  .strict();

export const remediationAwaitingApprovalData = remediationPlannedData.extend({ expiresAt: z.iso.datetime() }).strict();

export const remediationApprovedData = z.object({ ...target, approvedBy: z.string().min(1) }).strict();

export const remediationRejectedData = z
  .object({ ...target, rejectedBy: z.string().min(1), reason: z.string().min(1) })
  .strict();

export const remediationEscalatedData = z
  .object({
    incidentId: z.uuid(),
    remediationId: z.uuid().optional(),
    service: subjectToken,
    instance: z.union([subjectToken, z.literal('*')]),
    ...explanation,
  })
  .strict();

/** A candidate refused by a guardrail that only paces healing: it may be allowed later. */
export const pacingRefusal = z
  .object({ action: remediationAction, rule: z.enum(['service_concurrency', 'cooldown']), reason: z.string().min(1) })
  .strict();

/**
 * Every candidate was refused only by the per-service concurrency cap or the per-target cooldown:
 * instead of escalating, the decision is taken again at `retryAt` (sooner when a slot frees), and
 * escalated once the incident has waited until `escalateAt`. Instance-level incidents only.
 */
export const remediationDeferredData = z
  .object({
    incidentId: z.uuid(),
    remediationId: z.uuid(),
    service: subjectToken,
    instance: subjectToken,
    ...explanation,
    /** When the decision is taken again at the latest. */
    retryAt: z.iso.datetime(),
    /** When the incident was first deferred. */
    deferredSince: z.iso.datetime(),
    /** Still refused by then, it escalates to a human. */
    escalateAt: z.iso.datetime(),
    refusals: z.array(pacingRefusal).min(1),
  })
  .strict();

/** An escalation was delivered to (or finally failed to reach) a paging or webhook target. */
export const remediationEscalationDeliveredData = z
  .object({
    incidentId: z.uuid(),
    target: z.string().min(1).max(200),
    kind: z.enum(['pagerduty', 'webhook']),
    outcome: z.enum(['delivered', 'failed']),
    attempts: z.number().int().positive(),
    status: z.number().int().optional(),
    error: z.string().max(1000).optional(),
    dedupKey: z.string().min(1).max(255),
  })
  .strict();

export const remediationStartedData = z.object({ ...target, executor: z.string().min(1) }).strict();

export const remediationSucceededData = z
  .object({ ...target, durationMs: z.number().nonnegative(), details: z.record(z.string(), z.unknown()) })
  .strict();

export const remediationFailedData = z
  .object({
    ...target,
    durationMs: z.number().nonnegative(),
    error: z.object({ code: z.string().min(1), message: z.string() }).strict(),
  })
  .strict();

export const remediationRolledBackData = z.object({ ...target, reason: z.string().min(1) }).strict();

export type RemediationAction = z.infer<typeof remediationAction>;
export type CandidateConsidered = z.infer<typeof candidateConsidered>;
export type RemediationPlannedData = z.infer<typeof remediationPlannedData>;
export type RemediationEscalatedData = z.infer<typeof remediationEscalatedData>;
export type RemediationDeferredData = z.infer<typeof remediationDeferredData>;
export type PacingRefusal = z.infer<typeof pacingRefusal>;
export type RemediationEscalationDeliveredData = z.infer<typeof remediationEscalationDeliveredData>;
export type RemediationStartedData = z.infer<typeof remediationStartedData>;
export type RemediationSucceededData = z.infer<typeof remediationSucceededData>;
export type RemediationFailedData = z.infer<typeof remediationFailedData>;
