import { z } from 'zod';
import { SIGNING_ENV } from '@autoheal/security';
import { SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';

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

/** A Postgres role name, quoted nowhere: lowercase identifier only. Empty turns role switching off. */
const dbRole = z.union([z.literal(''), z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lowercase Postgres identifier, or empty')]);

const schema = z.object({
  ...SIGNING_ENV,
  DATABASE_URL: z.url({ message: 'must be a postgres:// URL' }),
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  AUDITOR_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  AUDITOR_OPS_API_KEY: apiKey.optional(),
  AUDITOR_TENANT_API_KEYS: tenantApiKeys,
  /**
   * The role every audit transaction runs as (SET LOCAL ROLE): INSERT and SELECT on the audit
   * log and nothing more, so a bug in this service cannot rewrite history. The connecting user
   * must be a member of it (or a superuser).
   */
  AUDITOR_DB_ROLE: dbRole.default('autoheal_auditor_app'),
});

export type AuditorConfig = z.infer<typeof schema>;

/** Reads the environment once at boot; the error lists every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AuditorConfig {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid auditor configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
