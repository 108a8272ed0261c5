import { z } from 'zod';
import { subjectToken } from '../subject-token.js';

export const remediationAction = z.enum(['restart']);

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

export const remediationPlannedData = z
  .object({
    ...target,
    policyVersion: z.string().min(1),
    reason: z.string().min(1),
    candidates: z.array(candidateConsidered),
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
    instance: subjectToken,
    policyVersion: z.string().min(1),
    reason: z.string().min(1),
    candidates: z.array(candidateConsidered),
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
export type RemediationStartedData = z.infer<typeof remediationStartedData>;
export type RemediationSucceededData = z.infer<typeof remediationSucceededData>;
export type RemediationFailedData = z.infer<typeof remediationFailedData>;
