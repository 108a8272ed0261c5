import { z } from 'zod';
import { subjectToken } from '@autoheal/contracts';
import { DEGRADATIONS } from './degradation.js';

const schema = z.object({
  TENANT_ID: subjectToken,
  SERVICE: subjectToken,
  INSTANCE: subjectToken,
  /** The release this process runs; the agent sets it from the fleet file's releases. */
  RELEASE_VERSION: z.string().min(1).max(64).default('initial'),
  /** 0 lets the OS choose; the agent always assigns one. */
  PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /**
   * The address it listens on: this machine only unless HTTP_HOST says otherwise, like the
   * services (an instance is the tenant's API, and a demo one should not face the network by
   * accident). The agent's fronts and the synthetic traffic reach it on 127.0.0.1, which
   * `0.0.0.0` and `::` include.
   */
  HTTP_HOST: z.string().min(1).max(253).default('127.0.0.1'),
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  /** NKey seed file and CA of the NATS server (see the README's NATS part); a tls:// NATS_URL needs both. */
  NATS_NKEY_SEED_FILE: z.string().min(1).optional(),
  NATS_TLS_CA_FILE: z.string().min(1).optional(),
  HEARTBEAT_MS: z.coerce.number().int().min(100).max(600_000).default(1000),
  /** One health.metrics sample per window; short, so that the demo's faults are seen within seconds. */
  METRICS_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(1000),
  /** The memory the instance may use (its container limit in production), reported beside RSS. */
  MEMORY_LIMIT_BYTES: z.coerce.number().int().positive().default(256 * 1024 * 1024),
  /** Requests per second the built-in synthetic client sends to this instance's /v1/orders; 0: none. */
  TRAFFIC_RPS: z.coerce.number().min(0).max(1000).default(5),
  /**
   * Requests per second each loaded route (/v1/orders, /v1/reports) serves at full speed; beyond
   * it the instance falls behind (overload.ts): late orders, a busy event loop. 0: no limit.
   */
  CAPACITY_RPS: z.coerce.number().min(0).max(100_000).default(0),
  /**
   * A fault the release itself carries (a bad release: the fleet file's release `env`), simulated
   * from the first request on, as chaos errors|slow|leak would be. Unlike chaos, a restart does
   * not clear it: the new process runs the same release. Unset: a healthy release.
   */
  DEMO_FAULT: z.enum(DEGRADATIONS).optional(),
  /** 1: a warm spare, silent until the agent promotes it over IPC (see spare.ts). */
  AUTOHEAL_SPARE: z.enum(['0', '1']).default('0'),
});

export type ApiServerConfig = z.infer<typeof schema>;

/** Reads the environment once at boot; the error lists every bad variable at once. */
export function loadApiServerConfig(env: NodeJS.ProcessEnv = process.env): ApiServerConfig {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid api-server configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
