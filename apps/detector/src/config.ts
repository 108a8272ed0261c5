import { z } from 'zod';

const schema = z.object({
  DATABASE_URL: z.url({ message: 'must be a postgres:// URL' }),
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  DETECTOR_PORT: z.coerce.number().int().min(0).max(65535).default(3001),
  /** Heartbeat intervals an instance may miss before it is declared hung. */
  DETECTOR_MISSED_INTERVALS: z.coerce.number().int().min(1).max(100).default(3),
  DETECTOR_SNAPSHOT_INTERVAL_MS: z.coerce.number().int().min(100).default(5_000),
  /** Optional JSON file: per-tenant/service rule overrides and maintenance windows (validated at boot). */
  DETECTOR_RULES_FILE: z.string().min(1).optional(),
  /** Flapping: an incident whose fingerprint opened DETECTOR_FLAP_MAX_OPENS times within the window is held open. */
  DETECTOR_FLAP_WINDOW_MS: z.coerce.number().int().min(1_000).default(600_000),
  DETECTOR_FLAP_MAX_OPENS: z.coerce.number().int().min(1).max(1_000).default(3),
  DETECTOR_FLAP_HOLD_MS: z.coerce.number().int().min(0).default(60_000),
  /** Fleet fault: when this share of every known instance (and at least DETECTOR_FLEET_MIN_INSTANCES) starts failing within the window, incidents are marked as a suspected detector or network fault. */
  DETECTOR_FLEET_SHARE: z.coerce.number().gt(0).max(1).default(0.3),
  DETECTOR_FLEET_MIN_INSTANCES: z.coerce.number().int().min(1).default(10),
  DETECTOR_FLEET_WINDOW_MS: z.coerce.number().int().min(1_000).default(30_000),
});

export type DetectorConfig = z.infer<typeof schema>;

/** Reads the environment once at boot; the error lists every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): DetectorConfig {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid detector configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
