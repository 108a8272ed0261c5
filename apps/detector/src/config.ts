import { z } from 'zod';

const schema = z.object({
  DATABASE_URL: z.url({ message: 'must be a postgres:// URL' }),
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  DETECTOR_PORT: z.coerce.number().int().min(0).max(65535).default(3001),
  /** Heartbeat intervals an instance may miss before it is declared hung. */
  DETECTOR_MISSED_INTERVALS: z.coerce.number().int().min(1).max(100).default(3),
  DETECTOR_SNAPSHOT_INTERVAL_MS: z.coerce.number().int().min(100).default(5_000),
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
