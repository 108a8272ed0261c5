import { z } from 'zod';
import { checkNatsEnv, natsEnvShape } from '@autoheal/messaging';
import { HTTP_HOST_ENV } from '@autoheal/http';
import { SIGNING_ENV } from '@autoheal/security';
import { SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';
import { checkOidcEnv, OIDC_ENV } from '@autoheal/access';

/** API keys are bearer secrets: anything shorter is guessable. */
export const MIN_API_KEY_LENGTH = 16;

const apiKey = z.string().min(MIN_API_KEY_LENGTH, `must be at least ${MIN_API_KEY_LENGTH} characters`).regex(/^\S+$/, 'must not contain whitespace');

export interface TenantApiKey {
  tenantId: string;
  key: string;
}

/** `tenantA=key1,tenantB=key2` (whitespace around entries ignored). */
const tenantApiKeys = z
  .string()
  .default('')
  .transform((raw, ctx): TenantApiKey[] => {
    const entries = raw
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean);
    const keys: TenantApiKey[] = [];
    for (const [i, entry] of entries.entries()) {
      const eq = entry.indexOf('=');
      const tenantId = eq === -1 ? '' : entry.slice(0, eq).trim();
      const key = eq === -1 ? '' : entry.slice(eq + 1).trim();
      if (!SUBJECT_TOKEN_PATTERN.test(tenantId)) {
        ctx.addIssue({ code: 'custom', message: `entry ${i + 1}: expected <tenantId>=<key> with a tenant id of A-Z a-z 0-9 _ -` });
        continue;
      }
      const checked = apiKey.safeParse(key);
      if (!checked.success) {
        ctx.addIssue({ code: 'custom', message: `entry ${i + 1} (${tenantId}): key ${checked.error.issues[0]?.message ?? 'is invalid'}` });
        continue;
      }
      keys.push({ tenantId, key });
    }
    return keys;
  });

/** `fieldA,fieldB`: payload field names to strip before hashing, on top of the built-in list. */
const fieldNames = z
  .string()
  .default('')
  .transform((raw) => raw.split(',').map((f) => f.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, 'must be a list of field names separated by commas')));

const positiveInt = (fallback: number) => z.coerce.number().int().min(1).default(fallback);

/** Audit reads (list, verify): limits per API key, the read pool, and how reads are recorded. README: "Reads never stall writes". */
const readEnv = {
  /**
   * The REST API's reads log in as `autoheal_auditor_reader` (SELECT only, row-level security).
   * Unset (or empty): the reads use DATABASE_URL's role through their own pool, and the service logs a warning.
   */
  DATABASE_READER_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url({ message: 'must be a postgres:// URL' }).optional()),
  /** Connections of the read pool: a verify flood waits for these, never for the appenders'. */
  AUDITOR_READ_POOL_SIZE: z.coerce.number().int().min(1).max(50).default(4),
  /** Tokens per minute per API key; a page read costs 1. */
  AUDITOR_READ_RATE_PER_MINUTE: positiveInt(120),
  /** Most tokens a key can save up. */
  AUDITOR_READ_BURST: positiveInt(60),
  /** Tokens an (incremental) verify costs. */
  AUDITOR_VERIFY_COST: positiveInt(10),
  /** Full re-verifications per hour per API key (their own bucket, burst 1). */
  AUDITOR_FULL_VERIFY_PER_HOUR: positiveInt(4),
  /** A verification runs from the first row when the chain was last verified whole longer ago than this. */
  AUDITOR_FULL_VERIFY_AFTER_HOURS: z.coerce.number().positive().default(24),
  /** The share of the time a long verification may keep the auditor busy past its first 5,000 rows (audit-read.service pauseAfterBatch); 1: never paced. */
  AUDITOR_VERIFY_PACE: z.coerce.number().gt(0).max(1).default(0.25),
  /** Reads by one key of one tenant within this many seconds are recorded as one `audit.read` row. */
  AUDITOR_READ_RECORD_WINDOW_SECONDS: z.coerce.number().min(0.05).max(3600).default(60),
};

/** Signed checkpoints and exports. README: "Evidence". */
const evidenceEnv = {
  /** A checkpoint of a tenant's chain after this many rows appended (by this process) since its last one. */
  AUDITOR_CHECKPOINT_EVERY_ROWS: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  /** And at least this often for a tenant whose chain grew since its last checkpoint. */
  AUDITOR_CHECKPOINT_EVERY_SECONDS: z.coerce.number().min(0.05).max(86_400).default(60),
  /** The file sink: a directory where each checkpoint and key is appended as a JSON line. Unset: no file sink (a warning at boot). */
  AUDITOR_CHECKPOINT_DIR: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).optional()),
  /** Most rows one export may hold; a longer range is refused (narrow from/to). */
  AUDITOR_EXPORT_MAX_ROWS: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
};

/** Retention of the log (README "Retention"). */
const retentionEnv = {
  /** Where partitions past the online window are archived (a bundle per tenant per partition). Production: storage the database's administrators cannot rewrite. */
  AUDITOR_ARCHIVE_DIR: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).default('.autoheal/audit-archive')),
  /** How often the retention pass runs (partitions ahead, archives, drops); 0: never (tests call it). */
  AUDITOR_RETENTION_INTERVAL_MS: z.coerce.number().int().nonnegative().default(3_600_000),
  /** Monthly partitions kept created ahead of the current month. */
  AUDITOR_PARTITIONS_AHEAD: z.coerce.number().int().min(1).max(24).default(3),
  /** Retention of a tenant whose profile the trail does not show (no compliance.policy_changed row): the longest of any framework. */
  AUDITOR_RETENTION_UNKNOWN_TENANT_DAYS: z.coerce.number().int().min(1).default(6 * 365),
  /**
   * A login of the owner role, for dropping partitions past retention (the auditor's own role can
   * remove no row). Unset: partitions are archived but never dropped, and each pass logs what is due.
   */
  AUDITOR_MAINTENANCE_DATABASE_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url({ message: 'must be a postgres:// URL' }).optional()),
};

/** SIEM forwarding (src/siem/). README: "SIEM forwarding". Off while AUDITOR_SIEM_URL is unset. */
const optionalText = z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).optional());
const siemEnv = {
  /** `tls://host:port` of the syslog receiver (RFC 5425: octet-counted RFC 5424 over TLS). Unset: no forwarding. */
  AUDITOR_SIEM_URL: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .regex(/^tls:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be tls://<host>:<port> (the forwarder sends over TLS only)')
      .optional(),
  ),
  /** CA (PEM) the receiver's certificate must chain to; required with AUDITOR_SIEM_URL. */
  AUDITOR_SIEM_CA_FILE: optionalText,
  /** Client certificate and key (PEM) for a receiver that authenticates its senders: both or neither. */
  AUDITOR_SIEM_CERT_FILE: optionalText,
  AUDITOR_SIEM_KEY_FILE: optionalText,
  /** The body: the row as JSON, or as a CEF record (which carries the JSON in `msg`). */
  AUDITOR_SIEM_FORMAT: z.enum(['json', 'cef']).default('json'),
  /** Rows per TLS session: the cursor moves once per session, when the receiver confirmed it. */
  AUDITOR_SIEM_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  /** How often to look for new rows when caught up. */
  AUDITOR_SIEM_POLL_MS: z.coerce.number().int().min(10).max(600_000).default(1000),
  /** Longest wait for one session (connect, handshake, send, the receiver's close). */
  AUDITOR_SIEM_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** Longest wait between tries after failures (they double from AUDITOR_SIEM_POLL_MS). */
  AUDITOR_SIEM_BACKOFF_MAX_MS: z.coerce.number().int().min(10).max(3_600_000).default(60_000),
  /** The cursor's name: a new name starts a destination from each chain's first row. */
  AUDITOR_SIEM_NAME: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1–128 of A-Z a-z 0-9 _ . : -').default('siem'),
  /** HOSTNAME field of each message (unset: the machine's host name). */
  AUDITOR_SIEM_HOSTNAME: optionalText,
  /** Syslog facility of each message (13: log audit). */
  AUDITOR_SIEM_FACILITY: z.coerce.number().int().min(0).max(23).default(13),
};

const schema = z.object({
  ...SIGNING_ENV,
  DATABASE_URL: z.url({ message: 'must be a postgres:// URL' }),
  ...readEnv,
  ...evidenceEnv,
  ...retentionEnv,
  ...siemEnv,
  /** NATS_URL, NATS_NKEY_SEED_FILE, NATS_TLS_CA_FILE: see checkNatsEnv. */
  ...natsEnvShape,
  AUDITOR_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** HTTP_HOST: the address the HTTP server binds (default 127.0.0.1; a container sets 0.0.0.0). */
  ...HTTP_HOST_ENV,
  /** Bootstrap admin key over every tenant: for creating the first personal keys (POST /v1/api-keys). */
  AUDITOR_OPS_API_KEY: apiKey.optional(),
  AUDITOR_TENANT_API_KEYS: tenantApiKeys,
  /** Extra payload fields redacted before hashing (the built-in list is in audit-log/redaction.ts). */
  AUDITOR_REDACT_FIELDS: fieldNames,
  /** AUTOHEAL_OIDC_*: OIDC bearer tokens (see libs/access). */
  ...OIDC_ENV,
  /** How often the API_KEYS bucket is made to match the database again (0: only at boot). */
  AUDITOR_API_KEYS_RECONCILE_MS: z.coerce.number().int().nonnegative().default(60_000),
  /** Refused requests (401/403) are audited as one row per origin and reason per window this long. */
  AUDITOR_REFUSAL_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
  /** How often the audit consumers' lag is sampled from JetStream (0: never; tests call the sampler). */
  AUDITOR_LAG_SAMPLE_INTERVAL_MS: z.coerce.number().int().nonnegative().default(15_000),
});

export type AuditorConfig = z.infer<typeof schema>;

/** Reads the environment once at boot; the error lists every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AuditorConfig {
  const result = schema
    .superRefine(checkNatsEnv)
    .superRefine(checkOidcEnv)
    .superRefine((c, ctx) => {
      // A verify that costs more than a full bucket could never pass.
      if (c.AUDITOR_VERIFY_COST > c.AUDITOR_READ_BURST) {
        ctx.addIssue({ code: 'custom', path: ['AUDITOR_VERIFY_COST'], message: `must not exceed AUDITOR_READ_BURST (${c.AUDITOR_READ_BURST})` });
      }
      // Forwarding verifies the receiver: never without a CA to verify it against.
      if (c.AUDITOR_SIEM_URL !== undefined && c.AUDITOR_SIEM_CA_FILE === undefined) {
        ctx.addIssue({ code: 'custom', path: ['AUDITOR_SIEM_CA_FILE'], message: 'is required with AUDITOR_SIEM_URL (the CA the receiver’s certificate must chain to)' });
      }
      if ((c.AUDITOR_SIEM_CERT_FILE === undefined) !== (c.AUDITOR_SIEM_KEY_FILE === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['AUDITOR_SIEM_CERT_FILE'], message: 'and AUDITOR_SIEM_KEY_FILE go together (a client certificate and its key)' });
      }
    })
    .safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid auditor configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
