import { z } from 'zod';
import { subjectToken } from '../subject-token.js';

/** Sent by an instance at the interval it announces; missing N of them is a hang. */
export const heartbeatData = z
  .object({
    service: subjectToken,
    instance: subjectToken,
    intervalMs: z.number().int().min(100).max(600_000),
    sequence: z.number().int().nonnegative(),
  })
  .strict();

/** Sent on graceful shutdown so that a planned stop opens no incident. */
export const stoppingData = z
  .object({
    service: subjectToken,
    instance: subjectToken,
    reason: z.string().max(500).optional(),
  })
  .strict();

export type HeartbeatData = z.infer<typeof heartbeatData>;
export type StoppingData = z.infer<typeof stoppingData>;

/** One observation of an instance's golden signals over a short window (SDK, HTTP ingest). */
export const metricSample = z
  .object({
    /** End of the window the sample covers. */
    at: z.iso.datetime(),
    windowMs: z.number().int().min(1).max(3_600_000),
    requests: z.number().int().nonnegative().optional(),
    errors: z.number().int().nonnegative().optional(),
    latencyMs: z
      .object({ p50: z.number().nonnegative(), p90: z.number().nonnegative().optional(), p99: z.number().nonnegative() })
      .strict()
      .optional(),
    /** Cumulative latency histogram: upper bound in ms → requests at or below it. */
    latencyHistogram: z.array(z.object({ le: z.number().positive(), count: z.number().int().nonnegative() }).strict()).max(64).optional(),
    cpu: z.number().min(0).max(64).optional(),
    memoryBytes: z.number().int().nonnegative().optional(),
    memoryLimitBytes: z.number().int().positive().optional(),
    eventLoopLagMs: z.number().nonnegative().optional(),
    diskUsedRatio: z.number().min(0).max(1).optional(),
    checks: z.array(z.object({ name: subjectToken, ok: z.boolean(), detail: z.string().max(500).optional() }).strict()).max(32).optional(),
  })
  .strict();

/** A batch of samples from one instance, oldest first. */
export const metricsData = z
  .object({
    service: subjectToken,
    instance: subjectToken,
    samples: z.array(metricSample).min(1).max(100),
  })
  .strict();

/** The supervisor (agent, orchestrator) or the transport saw the process end: a crash needs no deadline. */
export const exitedData = z
  .object({
    service: subjectToken,
    instance: subjectToken,
    exitCode: z.number().int().nullable(),
    signal: z.string().max(32).nullable(),
    observedBy: z.enum(['agent', 'connection']),
    /**
     * The agent switched the instance's front to a ready warm spare at once, under this armed
     * switchover (the remediation id of the `arm_switchover` the executor signed): traffic is
     * served again already; the incident still opens and is decided as usual.
     */
    switchedUnderArm: z.uuid().optional(),
    /**
     * No ready spare, and the arm allows a restart (`armHeals` has `restart`): the agent started
     * the instance again at once, same release, under this armed switchover. The incident still
     * opens, is decided as usual, and its restart claims this one.
     */
    restartedUnderArm: z.uuid().optional(),
  })
  .strict();

/** A Prometheus Alertmanager alert (webhook v4), one per alert, for teams that keep their rules. */
export const alertData = z
  .object({
    service: subjectToken,
    instance: subjectToken,
    alertname: z.string().min(1).max(200),
    status: z.enum(['firing', 'resolved']),
    severity: z.string().max(50).optional(),
    fingerprint: z.string().min(1).max(200),
    startsAt: z.iso.datetime(),
    endsAt: z.iso.datetime().optional(),
    labels: z.record(z.string(), z.string()),
    annotations: z.record(z.string(), z.string()),
  })
  .strict();

export type MetricSample = z.infer<typeof metricSample>;
export type MetricsData = z.infer<typeof metricsData>;
export type ExitedData = z.infer<typeof exitedData>;
export type AlertData = z.infer<typeof alertData>;
