import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { parseTenantScope, ROLES, type Principal } from './principal.js';

/** Keys are stored only as sha256: no database, bucket or log holds a usable secret. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * A key's id is derived from its hash, so it is stable across restarts and replicas for the
 * same key, and reveals nothing usable about the secret.
 */
export function apiKeyId(keyHash: string): string {
  return `ak_${keyHash.slice(0, 16)}`;
}

/** A new personal key: 256 random bits, no dots (so it is never mistaken for a JWT). */
export function generateApiKey(): string {
  return `ahk_${randomBytes(32).toString('base64url')}`;
}

/**
 * What a service needs to know about an active key, without its secret: the record the auditor
 * publishes into the API_KEYS bucket (keyed by the key's sha256) and the decision service reads.
 */
export const apiKeyGrantSchema = z.object({
  id: z.string().regex(/^ak_[0-9a-f]{16}$/),
  subject: z.string().min(1).max(200),
  roles: z.array(z.enum(ROLES)).min(1),
  tenantScope: z.unknown().transform((value, ctx) => {
    const parsed = parseTenantScope(value);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message });
    return parsed.ok ? parsed.scope : '*';
  }),
  /** RFC 3339; null: the key does not expire. */
  expiresAt: z.iso.datetime({ offset: true }).nullable(),
});
export type ApiKeyGrant = z.infer<typeof apiKeyGrantSchema>;

export function encodeApiKeyGrant(grant: ApiKeyGrant): string {
  return JSON.stringify(grant);
}

/** The grant in a bucket entry, or why it is unusable (a malformed entry grants nothing). */
export function decodeApiKeyGrant(text: string): { ok: true; grant: ApiKeyGrant } | { ok: false; message: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, message: 'not JSON' };
  }
  const parsed = apiKeyGrantSchema.safeParse(json);
  if (!parsed.success) return { ok: false, message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  return { ok: true, grant: parsed.data };
}

/** The principal a grant stands for at `now`; null once it has expired. */
export function principalOfGrant(grant: ApiKeyGrant, now: Date): Principal | null {
  if (grant.expiresAt !== null && Date.parse(grant.expiresAt) <= now.getTime()) return null;
  return { id: grant.id, subject: grant.subject, kind: 'api_key', roles: grant.roles, tenantScope: grant.tenantScope };
}
