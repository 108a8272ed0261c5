import { z } from 'zod';
import { subjectToken } from '../subject-token.js';

export const incidentKind = z.enum(['heartbeat_missed']);
export const incidentSeverity = z.enum(['critical', 'major', 'minor']);

const incidentTarget = {
  incidentId: z.uuid(),
  service: subjectToken,
  instance: subjectToken,
  kind: incidentKind,
};

export const incidentOpenedData = z
  .object({
    ...incidentTarget,
    severity: incidentSeverity,
    /** When the signal that proves the fault happened (for a hang: the deadline passing). */
    signalAt: z.iso.datetime(),
    detectedAt: z.iso.datetime(),
    /** signalAt → incident published, as measured by the detector. */
    detectionLatencyMs: z.number().nonnegative(),
    evidence: z.record(z.string(), z.unknown()),
  })
  .strict();

export const incidentUpdatedData = z
  .object({
    ...incidentTarget,
    severity: incidentSeverity,
    evidence: z.record(z.string(), z.unknown()),
  })
  .strict();

export const incidentResolvedData = z
  .object({
    ...incidentTarget,
    resolvedAt: z.iso.datetime(),
    reason: z.string().min(1).max(500),
    durationMs: z.number().nonnegative(),
  })
  .strict();

export type IncidentKind = z.infer<typeof incidentKind>;
export type IncidentSeverity = z.infer<typeof incidentSeverity>;
export type IncidentOpenedData = z.infer<typeof incidentOpenedData>;
export type IncidentUpdatedData = z.infer<typeof incidentUpdatedData>;
export type IncidentResolvedData = z.infer<typeof incidentResolvedData>;
