import { z } from 'zod';
import { SIGNING_ENV } from '@autoheal/security';

const schema = z.object({
  ...SIGNING_ENV,
  DATABASE_URL: z.url({ message: 'must be a postgres:// URL' }),
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  EXECUTOR_PORT: z.coerce.number().int().min(0).max(65535).default(3003),
  /** How long to wait for the agent to answer one restart request. */
  AGENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
  /**
   * Deliveries of one remediation before the executor gives up on an unreachable agent and
   * reports the remediation failed (naks back off 0.25 s, 0.5 s, 1 s … between them).
   */
  EXECUTOR_MAX_DELIVER: z.coerce.number().int().min(1).max(100).default(8),
});

export type ExecutorConfig = z.infer<typeof schema>;

/** Reads the environment once at boot; the error lists every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ExecutorConfig {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid executor configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
