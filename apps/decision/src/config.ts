import { z } from 'zod';

const schema = z.object({
  DATABASE_URL: z.url({ message: 'must be a postgres:// URL' }),
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  DECISION_PORT: z.coerce.number().int().min(0).max(65535).default(3002),
  /** Tenants and their compliance profiles; relative paths resolve against the working directory. */
  DECISION_TENANTS_FILE: z.string().min(1).default('deploy/demo/fleet.json'),
});

export type DecisionConfig = z.infer<typeof schema>;

/** Reads the environment once at boot; the error lists every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): DecisionConfig {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid decision configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
