import { join } from 'node:path';
import { z } from 'zod';
import { SIGNING_ENV } from '@autoheal/security';

const schema = z.object({
  ...SIGNING_ENV,
  /** This agent's id; its key must be listed as `agent:<AGENT_ID>` in the trust file, and the executor maps targets to it. */
  AGENT_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ -').default('demo-fleet'),
  /** Clock difference tolerated between the executor and this agent on a command's issuedAt/expiresAt. */
  AGENT_COMMAND_MAX_SKEW_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  /** NKey seed file and CA of the NATS server (see the README's NATS part); a tls:// NATS_URL needs both. */
  NATS_NKEY_SEED_FILE: z.string().min(1).optional(),
  NATS_TLS_CA_FILE: z.string().min(1).optional(),
  /** Folder of the tenants' producer seeds (`producer-<tenant>.nk`): each instance reports its health with its tenant's, never the agent's. */
  AGENT_PRODUCER_SEED_DIR: z.string().min(1).optional(),
  FLEET_FILE: z.string().min(1).default('deploy/demo/fleet.json'),
  /** Instance i listens on FLEET_BASE_PORT + i; 0 picks free ports. */
  FLEET_BASE_PORT: z.coerce.number().int().min(0).max(65_000).default(4100),
  AGENT_STATE_DIR: z.string().min(1).default('.autoheal/agent'),
  /** Heartbeat interval the instances announce. */
  HEARTBEAT_MS: z.coerce.number().int().min(100).max(600_000).default(1000),
  /** How long a new process (restart, replace, rollback, scale_out) has to answer GET /healthz before the action is reported not_ready. */
  AGENT_READY_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** How long an instance has to acknowledge a throttle limit sent over its IPC channel. */
  AGENT_ACK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  /** The compiled api-server entry point, next to this file's directory in dist. */
  API_SERVER_ENTRY: z.string().min(1).default(join(__dirname, '..', 'api-server', 'api-server.main.js')),
});

export type AgentConfig = z.infer<typeof schema>;

/** Reads the environment once at boot; the error lists every bad variable at once. */
export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid agent configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
