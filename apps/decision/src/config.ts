import { z } from 'zod';
import { checkNatsEnv, natsEnvShape } from '@autoheal/messaging';
import { HTTP_HOST_ENV } from '@autoheal/http';
import { SIGNING_ENV } from '@autoheal/security';
import { checkOidcEnv, OIDC_ENV } from '@autoheal/access';
import type { BreakerOptions } from './planning/policy-port.js';

const schema = z.object({
  ...SIGNING_ENV,
  DATABASE_URL: z.url({ message: 'must be a postgres:// URL' }),
  /**
   * The admin API's reads log in as `autoheal_decision_reader` (SELECT only, row-level security
   * per tenant). Unset or empty: DATABASE_URL's role, on a pool of its own, with a warning.
   */
  DATABASE_READER_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url({ message: 'must be a postgres:// URL' }).optional()),
  /** Connections of the admin API's read pool. */
  DECISION_READ_POOL_SIZE: z.coerce.number().int().min(1).max(50).default(2),
  /** NATS_URL, NATS_NKEY_SEED_FILE, NATS_TLS_CA_FILE: see checkNatsEnv. */
  ...natsEnvShape,
  DECISION_PORT: z.coerce.number().int().min(0).max(65535).default(3002),
  /** HTTP_HOST: the address the HTTP server binds (default 127.0.0.1; a container sets 0.0.0.0). */
  ...HTTP_HOST_ENV,
  /** Legacy tenants file (demo fleet); its tenants are seeded as documents when DECISION_TENANTS_DIR is unset. */
  DECISION_TENANTS_FILE: z.string().min(1).default('deploy/demo/fleet.json'),
  /** A directory (or file) of tenant documents (JSON or YAML) seeded at boot; takes precedence over the tenants file. */
  DECISION_TENANTS_DIR: z.string().min(1).optional(),
  /**
   * Bootstrap key for /v1/admin/*: an admin over every tenant, recorded as `bootstrap-admin`.
   * For first setup and break-glass; people use their own API keys (created at the auditor) or OIDC.
   */
  DECISION_ADMIN_API_KEY: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
  /** AUTOHEAL_OIDC_*: OIDC bearer tokens on the admin API (see libs/access). */
  ...OIDC_ENV,
  /** Refused admin requests are logged as one line per origin and reason per window this long (the metric counts each). */
  DECISION_REFUSAL_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
  /** How often expired approvals are escalated (0: never, tests call the sweeper). */
  DECISION_SWEEP_INTERVAL_MS: z.coerce.number().int().nonnegative().default(5_000),
  /** How often due escalation deliveries are attempted (0: never). */
  DECISION_DELIVERY_INTERVAL_MS: z.coerce.number().int().nonnegative().default(1_000),
  DECISION_DELIVERY_BACKOFF_MS: z.coerce.number().int().positive().default(2_000),
  DECISION_DELIVERY_MAX_ATTEMPTS: z.coerce.number().int().positive().default(8),
  DECISION_DELIVERY_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  /** How often remediations past their verify deadline are looked for (0: never, tests call the worker). */
  DECISION_VERIFY_INTERVAL_MS: z.coerce.number().int().nonnegative().default(1_000),
  /** Verified scale_outs whose scale-in is due are judged this often (0: off). */
  DECISION_SCALE_IN_INTERVAL_MS: z.coerce.number().int().nonnegative().default(1_000),
  /** Armed switchovers (and restarts) of services on the agent runtime are judged this often (0: off; see the README, *Armed switchover*). */
  DECISION_ARM_INTERVAL_MS: z.coerce.number().int().nonnegative().default(1_000),
  /** How long an armed switchover holds on the agent; renewed when half of it is left. */
  DECISION_ARM_TTL_MS: z.coerce.number().int().min(10_000).max(3_600_000).default(600_000),
  /** An arm is judged again at least this often: a tenant apply, a freeze, the breaker or the hourly cap withdraws it within this. */
  DECISION_ARM_RECHECK_MS: z.coerce.number().int().positive().default(5_000),
  /** How often deferred incidents that are due are decided again (0: never, tests call the worker). */
  DECISION_DEFER_INTERVAL_MS: z.coerce.number().int().nonnegative().default(1_000),
  /** A deferral by the concurrency cap is decided again after this long at the latest (sooner when a slot frees). */
  DECISION_DEFER_RECHECK_MS: z.coerce.number().int().positive().default(15_000),
  /** How often open incidents are checked against the time to remediate (0: never). */
  DECISION_COMPLIANCE_INTERVAL_MS: z.coerce.number().int().nonnegative().default(10_000),
  /**
   * Availability is measured over this rolling window, ending at each check (default 30 days: the
   * month an availability commitment is usually stated over). The tenant document has no field
   * for it, so it is one value for every tenant.
   */
  DECISION_AVAILABILITY_WINDOW_MS: z.coerce.number().int().positive().default(30 * 24 * 60 * 60 * 1000),
  /**
   * How often the state gauges (breakers, approvals waiting, availability against target) are
   * sampled from the database (0: never, tests call the sampler).
   */
  DECISION_METRICS_INTERVAL_MS: z.coerce.number().int().nonnegative().default(30_000),
  /** Share of the maximum time to remediate after which an open incident is reported at risk. */
  DECISION_TTR_AT_RISK_SHARE: z.coerce.number().gt(0).lt(1).default(0.8),
  /** Circuit breakers (policy/circuit-breaker.ts): incidents opened within this window count as arriving together. */
  DECISION_BREAKER_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
  /** A tenant's breaker opens when this share of the instances its inventory declares fail at once … */
  DECISION_BREAKER_FLEET_SHARE: z.coerce.number().gt(0).max(1).default(0.3),
  /** … provided at least this many distinct declared instances fail. */
  DECISION_BREAKER_MIN_INSTANCES: z.coerce.number().int().positive().default(3),
  /** A tenant that declares no instance opens its own breaker when this many distinct instances fail at once. */
  DECISION_BREAKER_NO_INVENTORY_MIN_INSTANCES: z.coerce.number().int().positive().default(5),
  /** The global breaker opens when this many tenants storm at once (at least 2: one tenant never opens it) … */
  DECISION_BREAKER_MIN_TENANTS: z.coerce.number().int().min(2).default(3),
  /** … or, when that is fewer (never below 2), this share of the tenants that declare an inventory … */
  DECISION_BREAKER_TENANT_SHARE: z.coerce.number().gt(0).max(1).default(0.5),
  /** … or when this many incidents marked by the detector as a suspected detector or network fault arrive together. */
  DECISION_BREAKER_MIN_SUSPECTED: z.coerce.number().int().positive().default(2),
});

export type DecisionConfig = z.infer<typeof schema>;

export function breakerOptionsFrom(config: DecisionConfig): BreakerOptions {
  return {
    windowMs: config.DECISION_BREAKER_WINDOW_MS,
    tenantShare: config.DECISION_BREAKER_FLEET_SHARE,
    tenantMinInstances: config.DECISION_BREAKER_MIN_INSTANCES,
    noInventoryMinInstances: config.DECISION_BREAKER_NO_INVENTORY_MIN_INSTANCES,
    minTenants: config.DECISION_BREAKER_MIN_TENANTS,
    tenantsShare: config.DECISION_BREAKER_TENANT_SHARE,
    minSuspected: config.DECISION_BREAKER_MIN_SUSPECTED,
  };
}

/** Reads the environment once at boot; the error lists every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): DecisionConfig {
  const result = schema.superRefine(checkNatsEnv).superRefine(checkOidcEnv).safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid decision configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
