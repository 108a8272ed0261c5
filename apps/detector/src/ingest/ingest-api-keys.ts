import { createHash, timingSafeEqual } from 'node:crypto';
import { SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';
import { IngestErrorCode } from './ingest.errors.js';

/**
 * Ingest keys as configured, kept only as SHA-256 digests: a heap dump or a log of this
 * structure does not reveal a usable key.
 */
export interface IngestKeyring {
  byTenant: ReadonlyMap<string, readonly Buffer[]>;
}

export const MIN_KEY_LENGTH = 8;

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export type KeyringParse = { ok: true; keyring: IngestKeyring } | { ok: false; problems: string[] };

/** Parses `tenantA=key1,tenantB=key2`; every problem is listed at once. */
export function parseIngestApiKeys(raw: string): KeyringParse {
  const byTenant = new Map<string, Buffer[]>();
  const tenantByDigest = new Map<string, string>();
  const problems: string[] = [];
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  entries.forEach((entry, position) => {
    const eq = entry.indexOf('=');
    const tenantId = eq < 0 ? '' : entry.slice(0, eq).trim();
    const key = eq < 0 ? '' : entry.slice(eq + 1).trim();
    if (!SUBJECT_TOKEN_PATTERN.test(tenantId)) {
      problems.push(`entry ${position + 1}: tenant must be a subject token (A-Z a-z 0-9 _ -), written tenant=key`);
      return;
    }
    if (key.length < MIN_KEY_LENGTH) {
      problems.push(`entry ${position + 1} (${tenantId}): key must be at least ${MIN_KEY_LENGTH} characters`);
      return;
    }
    const d = digest(key);
    const owner = tenantByDigest.get(d.toString('hex'));
    if (owner !== undefined && owner !== tenantId) {
      problems.push(`entry ${position + 1} (${tenantId}): the same key is configured for tenant ${owner}`);
      return;
    }
    tenantByDigest.set(d.toString('hex'), tenantId);
    byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), d]);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, keyring: { byTenant } };
}

export type IngestAuthCode = IngestErrorCode.MissingApiKey | IngestErrorCode.InvalidApiKey;
export type IngestAuthResult = { ok: true } | { ok: false; code: IngestAuthCode };

/**
 * Checks `Authorization: Bearer <key>` against the tenant in the path. Digests are compared
 * with timingSafeEqual against every key of the tenant, so the time taken does not say how
 * much of a guess was right. An unknown key and another tenant's key get the same answer.
 */
export function authorizeIngest(keyring: IngestKeyring, authorization: string | undefined, tenantId: string): IngestAuthResult {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) return { ok: false, code: IngestErrorCode.MissingApiKey };
  const presented = digest(match[1]);
  let granted = false;
  for (const stored of keyring.byTenant.get(tenantId) ?? []) {
    // No early exit: every stored key of the tenant is compared.
    granted = timingSafeEqual(stored, presented) || granted;
  }
  if (granted) return { ok: true };
  return { ok: false, code: IngestErrorCode.InvalidApiKey };
}
