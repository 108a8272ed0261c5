import { z } from 'zod';
import { checkNatsEnv, natsEnvShape } from '@autoheal/messaging';
import { HTTP_HOST_ENV } from '@autoheal/http';
import { SIGNING_ENV } from '@autoheal/security';
import { parseTargetAgents } from './drivers/target-agents.js';

const schema = z.object({
  ...SIGNING_ENV,
  DATABASE_URL: z.url({ message: 'must be a postgres:// URL' }),
  /** NATS_URL, NATS_NKEY_SEED_FILE, NATS_TLS_CA_FILE: see checkNatsEnv. */
  ...natsEnvShape,
  EXECUTOR_PORT: z.coerce.number().int().min(0).max(65535).default(3003),
  /** HTTP_HOST: the address the HTTP server binds (default 127.0.0.1; a container sets 0.0.0.0). */
  ...HTTP_HOST_ENV,
  /** How long to wait for the agent to answer one restart request. */
  AGENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
  /**
   * Deliveries of one remediation before the executor gives up on an unreachable agent and
   * reports the remediation failed (naks back off 0.25 s, 0.5 s, 1 s … between them).
   */
  EXECUTOR_MAX_DELIVER: z.coerce.number().int().min(1).max(100).default(8),
  /** How long a signed command stays valid after it is issued; agents refuse it after that (plus a small clock skew). */
  EXECUTOR_COMMAND_TTL_MS: z.coerce.number().int().min(1_000).max(300_000).default(30_000),
  /** How long a runbook may take, callback included, when the target's runtime names no `timeoutMs`. */
  EXECUTOR_RUNBOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /**
   * Where runbooks reach this executor's HTTP server for their callbacks (`https://executor-1.example`);
   * absent: http://127.0.0.1:EXECUTOR_PORT. Each replica needs its own: a callback must reach the
   * replica that is waiting for it.
   */
  EXECUTOR_PUBLIC_URL: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).optional(),
  /**
   * How long one Kubernetes remediation may take, waiting for pods or a rollout included; also
   * how long its lease on the workload holds (see drivers/kubernetes).
   */
  EXECUTOR_KUBERNETES_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(600_000).default(60_000),
  /**
   * Which agent runs which targets (`*=demo-fleet`, `acme=host-a,acme/api/api-2=host-b`), and
   * which keeps a service's standby in a region (`acme/api@eu-west-1=host-c`, for failovers): a
   * reply counts only when signed by that agent's key (`agent:<id>` in the trust file). Required.
   */
  EXECUTOR_TARGET_AGENTS: z
    .string({ message: 'required: which agent runs which targets, e.g. *=demo-fleet' })
    .transform((raw, ctx) => {
      const parsed = parseTargetAgents(raw);
      if (parsed.ok) return parsed.rules;
      for (const problem of parsed.problems) ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }),
});

export type ExecutorConfig = Omit<z.infer<typeof schema>, 'EXECUTOR_PUBLIC_URL'> & {
  /** Never ends in `/`. */
  EXECUTOR_PUBLIC_URL: string;
};

/** Reads the environment once at boot; the error lists every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ExecutorConfig {
  const result = schema.superRefine(checkNatsEnv).safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid executor configuration:\n${lines.join('\n')}`);
  }
  const publicUrl = result.data.EXECUTOR_PUBLIC_URL ?? `http://127.0.0.1:${result.data.EXECUTOR_PORT}`;
  return { ...result.data, EXECUTOR_PUBLIC_URL: publicUrl.replace(/\/+$/, '') };
}
