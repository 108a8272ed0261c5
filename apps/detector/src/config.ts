import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { checkNatsEnv, natsEnvShape } from '@autoheal/messaging';
import { HTTP_HOST_ENV } from '@autoheal/http';
import { SIGNING_ENV } from '@autoheal/security';

/** Unique per process: a restarted detector is a new member that takes its partitions over from the saved state. */
function defaultMemberId(): string {
  const host = hostname().replace(/[^-_a-zA-Z0-9]/g, '-').slice(0, 40) || 'detector';
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

const schema = z.object({
  ...SIGNING_ENV,
  DATABASE_URL: z.url({ message: 'must be a postgres:// URL' }),
  /** NATS_URL, NATS_NKEY_SEED_FILE, NATS_TLS_CA_FILE: see checkNatsEnv. */
  ...natsEnvShape,
  DETECTOR_PORT: z.coerce.number().int().min(0).max(65535).default(3001),
  /** HTTP_HOST: the address the HTTP server binds (default 127.0.0.1; a container sets 0.0.0.0). */
  ...HTTP_HOST_ENV,
  /** Heartbeat intervals an instance may miss before it is declared hung. */
  DETECTOR_MISSED_INTERVALS: z.coerce.number().int().min(1).max(100).default(3),
  DETECTOR_SNAPSHOT_INTERVAL_MS: z.coerce.number().int().min(100).default(5_000),
  /** A heartbeat that only moves an alive instance's last-seen time is saved once it moved this far since the last save (0: every one). */
  DETECTOR_LAST_SEEN_PRECISION_MS: z.coerce.number().int().min(0).default(60_000),
  /** Optional JSON file: per-tenant/service rule overrides and maintenance windows (validated at boot). */
  DETECTOR_RULES_FILE: z.string().min(1).optional(),
  /** Flapping: an incident whose fingerprint opened DETECTOR_FLAP_MAX_OPENS times within the window is held open. */
  DETECTOR_FLAP_WINDOW_MS: z.coerce.number().int().min(1_000).default(600_000),
  DETECTOR_FLAP_MAX_OPENS: z.coerce.number().int().min(1).max(1_000).default(3),
  DETECTOR_FLAP_HOLD_MS: z.coerce.number().int().min(0).default(60_000),
  /** Instances of one tenant this detector keeps state for; events of more are refused (see heartbeat/instance-quota.ts). */
  DETECTOR_MAX_INSTANCES_PER_TENANT: z.coerce.number().int().min(1).default(1_000),
  /** An instance with no event for this long, not alive and with no open incident, is forgotten and leaves the count. */
  DETECTOR_INSTANCE_IDLE_MS: z.coerce.number().int().min(1_000).default(3_600_000),
  /**
   * A hang whose deadline timer fired this late (and later than one heartbeat interval) is marked
   * as a suspected detector or network fault: the detector was not listening (observer-fault.ts).
   */
  DETECTOR_OBSERVER_LATE_MS: z.coerce.number().int().min(1).default(2_000),
  /** This detector among the running ones: letters, digits, `-` and `_` (it names a KV key and a consumer). */
  DETECTOR_MEMBER_ID: z
    .string()
    .regex(/^[-_a-zA-Z0-9]{1,64}$/, 'letters, digits, - and _ only, at most 64')
    .default(defaultMemberId),
  /** The fleet is split into this many partitions (by tenant and service); every detector of a deployment must agree. */
  DETECTOR_PARTITIONS: z.coerce.number().int().min(1).max(4096).default(64),
  /** How often a detector announces itself to the others, and after how long unheard it counts as dead and its partitions move. */
  DETECTOR_MEMBER_HEARTBEAT_MS: z.coerce.number().int().min(50).default(1_000),
  DETECTOR_MEMBER_TTL_MS: z.coerce.number().int().min(200).default(3_000),
  /** The server deletes the health consumer of a detector gone for this long. */
  DETECTOR_CONSUMER_INACTIVE_MS: z.coerce.number().int().min(1_000).default(60_000),
}).refine((c) => c.DETECTOR_MEMBER_TTL_MS > c.DETECTOR_MEMBER_HEARTBEAT_MS, {
  message: 'must be longer than DETECTOR_MEMBER_HEARTBEAT_MS, or a living detector would count as dead',
  path: ['DETECTOR_MEMBER_TTL_MS'],
});

export type DetectorConfig = z.infer<typeof schema>;

/** Reads the environment once at boot; the error lists every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): DetectorConfig {
  const result = schema.superRefine(checkNatsEnv).safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid detector configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
