import { z } from 'zod';
import { subjectToken } from '../subject-token.js';

/**
 * heartbeat_missed: a hang (N intervals silent); crashed: the process ended; error_rate, latency,
 * saturation: a threshold held; anomaly: a jump against the instance's own baseline; slo_burn:
 * the error budget burns too fast; predicted: a metric is on course to cross its threshold;
 * check_failed: a named custom check; alert: a firing Alertmanager alert.
 */
export const incidentKind = z.enum([
  'heartbeat_missed',
  'crashed',
  'error_rate',
  'latency',
  'saturation',
  'anomaly',
  'slo_burn',
  'predicted',
  'check_failed',
  'alert',
]);

/**
 * Why nothing should act on an incident blindly: the detector reports that it could not watch
 * properly when the incident opened (its evidence says how, `observerFault`), so the fault may be
 * the detector's or the network's, not the instance's. A fact the detector knows about itself,
 * not a judgement about the fleet: that belongs to the decision service.
 */
export const suspectedCause = z.enum(['detector_or_network']);
export const incidentSeverity = z.enum(['critical', 'major', 'minor']);

const incidentTarget = {
  incidentId: z.uuid(),
  service: subjectToken,
  /** The instance, or `*` for a service-level incident that groups failing instances. */
  instance: z.union([subjectToken, z.literal('*')]),
  kind: incidentKind,
};

/** Optional facts on opened/updated incidents; absent means false / none. */
const incidentFlags = {
  scope: z.enum(['instance', 'service']).optional(),
  /** The instance flapped inside the window: one incident is kept instead of new ones. */
  flapping: z.boolean().optional(),
  suspectedCause: suspectedCause.optional(),
  /** For a service-level incident: the instance incidents it groups. */
  members: z.array(subjectToken).max(1000).optional(),
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
    ...incidentFlags,
  })
  .strict();

export const incidentUpdatedData = z
  .object({
    ...incidentTarget,
    severity: incidentSeverity,
    evidence: z.record(z.string(), z.unknown()),
    ...incidentFlags,
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
export type SuspectedCause = z.infer<typeof suspectedCause>;
export type IncidentSeverity = z.infer<typeof incidentSeverity>;
export type IncidentOpenedData = z.infer<typeof incidentOpenedData>;
export type IncidentUpdatedData = z.infer<typeof incidentUpdatedData>;
export type IncidentResolvedData = z.infer<typeof incidentResolvedData>;
