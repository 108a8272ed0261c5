import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { keyIdOf, parsePublicKey } from './keys.js';
import { SecurityError, SecurityErrorCode } from './security.errors.js';

/**
 * Who a key speaks for: one of the four services, or `agent:<agent id>` for a host agent.
 * Tenant producers (health events) hold no signing key.
 */
export type Identity = 'detector' | 'decision' | 'executor' | 'auditor' | `agent:${string}`;

const SERVICE_IDENTITIES = ['detector', 'decision', 'executor', 'auditor'] as const;
const AGENT_IDENTITY = /^agent:[A-Za-z0-9_-]{1,64}$/;

export function isIdentity(value: string): value is Identity {
  return (SERVICE_IDENTITIES as readonly string[]).includes(value) || AGENT_IDENTITY.test(value);
}

export function agentIdentity(agentId: string): Identity {
  const identity = `agent:${agentId}`;
  if (!AGENT_IDENTITY.test(identity)) throw new Error(`invalid agent id ${JSON.stringify(agentId)}: use A-Z a-z 0-9 _ - (at most 64)`);
  return identity as Identity;
}

export interface TrustedKey {
  keyId: string;
  identity: Identity;
  publicKey: KeyObject;
  /** Not trusted before this instant (absent: from the start). */
  notBefore: Date | null;
  /** Not trusted from this instant on (absent: until removed from the file). */
  notAfter: Date | null;
}

/** The public keys a process trusts, by key id. */
export interface TrustStore {
  readonly keys: ReadonlyMap<string, TrustedKey>;
}

const entry = z
  .object({
    keyId: z.string().min(1),
    identity: z.string().refine(isIdentity, 'must be detector, decision, executor, auditor or agent:<id>'),
    publicKey: z.string().min(1),
    notBefore: z.iso.datetime({ offset: true }).optional(),
    notAfter: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

const trustFile = z.object({ keys: z.array(z.unknown()) }).strict();

/**
 * The trust file (AUTOHEAL_TRUST_FILE):
 * `{ "keys": [{ "keyId", "identity", "publicKey" (base64 DER or PEM), "notBefore"?, "notAfter"? }] }`.
 * Every problem is reported at once; one bad entry refuses the whole file, so a typo never
 * silently drops a key (or keeps one that was meant to go).
 */
export function parseTrustStore(raw: unknown): TrustStore {
  const top = trustFile.safeParse(raw);
  if (!top.success) throw new SecurityError(SecurityErrorCode.TrustFileInvalid, 'trust file must be an object {"keys": [...]} and nothing else');
  const problems: string[] = [];
  const keys = new Map<string, TrustedKey>();
  top.data.keys.forEach((item, i) => {
    const parsed = entry.safeParse(item);
    if (!parsed.success) {
      problems.push(`keys[${i}]: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(entry)'}: ${issue.message}`).join('; ')}`);
      return;
    }
    const e = parsed.data;
    let publicKey: KeyObject;
    try {
      publicKey = parsePublicKey(e.publicKey);
    } catch (error) {
      problems.push(`keys[${i}] (${e.keyId}): publicKey: ${(error as Error).message}`);
      return;
    }
    const derived = keyIdOf(publicKey);
    if (derived !== e.keyId) problems.push(`keys[${i}]: keyId ${e.keyId} does not match its public key (${derived})`);
    else if (keys.has(e.keyId)) problems.push(`keys[${i}]: key ${e.keyId} is listed twice`);
    const notBefore = e.notBefore === undefined ? null : new Date(e.notBefore);
    const notAfter = e.notAfter === undefined ? null : new Date(e.notAfter);
    if (notBefore && notAfter && notBefore >= notAfter) problems.push(`keys[${i}] (${e.keyId}): notBefore must be before notAfter`);
    keys.set(e.keyId, { keyId: e.keyId, identity: e.identity, publicKey, notBefore, notAfter });
  });
  if (problems.length > 0) throw new SecurityError(SecurityErrorCode.TrustFileInvalid, `invalid trust file:\n  ${problems.join('\n  ')}`);
  return { keys };
}

export function loadTrustStore(path: string): TrustStore {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new SecurityError(SecurityErrorCode.TrustFileUnreadable, `trust file ${path} cannot be read as JSON: ${(error as Error).message}`);
  }
  try {
    return parseTrustStore(raw);
  } catch (error) {
    throw new SecurityError(SecurityErrorCode.TrustFileInvalid, `${path}: ${(error as Error).message}`);
  }
}

export type KeyLookup =
  | { ok: true; key: TrustedKey }
  | { ok: false; reason: 'unknown_key' | 'key_not_yet_valid' | 'key_expired'; detail: string };

/** The trusted key with this id, if it is valid at `at`. During a rotation old and new both are. */
export function trustedKey(store: TrustStore, keyId: string, at: Date): KeyLookup {
  const key = store.keys.get(keyId);
  if (!key) return { ok: false, reason: 'unknown_key', detail: `key ${keyId} is not in the trust store` };
  if (key.notBefore && at < key.notBefore) return { ok: false, reason: 'key_not_yet_valid', detail: `key ${keyId} is trusted from ${key.notBefore.toISOString()}` };
  if (key.notAfter && at >= key.notAfter) return { ok: false, reason: 'key_expired', detail: `key ${keyId} was trusted until ${key.notAfter.toISOString()}` };
  return { ok: true, key };
}
