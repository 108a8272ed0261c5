import type { SigningKey } from './keys.js';
import { signBytes, verifyBytes } from './keys.js';
import { trustedKey, type Identity, type TrustStore } from './trust-store.js';

/** NATS headers that carry an event's signature and the id of the key that made it. */
export const SIGNATURE_HEADER = 'Autoheal-Signature';
export const KEY_ID_HEADER = 'Autoheal-Key-Id';

/**
 * Which identity may produce each control event, by type. One table: a type missing here is
 * not a control event (health.*, which tenant producers publish unsigned), a control type
 * missing here is produced by nobody and always refused.
 */
const PRODUCERS: ReadonlyArray<readonly [pattern: RegExp, identities: readonly Identity[]]> = [
  [/^incident\.[a-z_]+$/, ['detector']],
  [/^remediation\.(planned|awaiting_approval|approved|rejected|deferred|escalated|escalation_delivered|verified|verification_failed)$/, ['decision']],
  [/^remediation\.(started|succeeded|failed|rolled_back)$/, ['executor']],
  [/^compliance\.[a-z_]+$/, ['decision']],
  // Refused admin API requests, bound for the system trail: only the decision service has such an API
  // (the auditor records its own directly). Before the general rule: the first match wins.
  [/^security\.access_refused$/, ['decision']],
  // Raised by whichever service caught the forgery; the detector consumes no control event.
  [/^security\.[a-z_]+$/, ['decision', 'executor', 'auditor']],
];

const CONTROL_DOMAINS = new Set(['incident', 'remediation', 'compliance', 'security']);

/** True for a subject or event type in a signed domain (`incident`, `remediation`, `compliance`, `security`). */
export function isControlSubject(subjectOrType: string): boolean {
  const dot = subjectOrType.indexOf('.');
  return CONTROL_DOMAINS.has(dot === -1 ? subjectOrType : subjectOrType.slice(0, dot));
}

/** The identities entitled to produce this event type; empty when none is. */
export function entitledProducers(type: string): readonly Identity[] {
  for (const [pattern, identities] of PRODUCERS) if (pattern.test(type)) return identities;
  return [];
}

export type ProvenanceRejectionReason =
  | 'unsigned'
  | 'unknown_key'
  | 'key_not_yet_valid'
  | 'key_expired'
  | 'bad_signature'
  | 'not_entitled'
  | 'producer_mismatch';

export const PROVENANCE_REJECTION_REASONS: readonly ProvenanceRejectionReason[] = [
  'unsigned',
  'unknown_key',
  'key_not_yet_valid',
  'key_expired',
  'bad_signature',
  'not_entitled',
  'producer_mismatch',
];

export type ProvenanceVerdict =
  | { ok: true; identity: Identity; keyId: string }
  | { ok: false; reason: ProvenanceRejectionReason; detail: string; keyId: string | null };

/** What arrived: the exact payload bytes, the two headers, and what the (parsed) envelope claims. */
export interface SignedEventInput {
  payload: Uint8Array;
  signature: string | undefined;
  keyId: string | undefined;
  type: string;
  producer: string;
}

/**
 * Accepts an event only if its signature over the exact payload bytes is valid, by a key the
 * store trusts now, whose identity may produce this type, and the envelope's `producer` is
 * that identity. Order matters for the reason given, not for safety: each check alone refuses.
 */
export function verifyEventProvenance(store: TrustStore, input: SignedEventInput, now: Date): ProvenanceVerdict {
  const { signature, keyId } = input;
  if (!signature || !keyId) return { ok: false, reason: 'unsigned', detail: `no ${SIGNATURE_HEADER} / ${KEY_ID_HEADER} header`, keyId: keyId ?? null };
  const lookup = trustedKey(store, keyId, now);
  if (!lookup.ok) return { ok: false, reason: lookup.reason, detail: lookup.detail, keyId };
  if (!verifyBytes(lookup.key.publicKey, input.payload, signature)) {
    return { ok: false, reason: 'bad_signature', detail: `signature does not match the payload for key ${keyId}`, keyId };
  }
  const identity = lookup.key.identity;
  const entitled = entitledProducers(input.type);
  if (!entitled.includes(identity)) {
    return { ok: false, reason: 'not_entitled', detail: `${identity} may not produce ${input.type} (only ${entitled.join(', ') || 'nobody'})`, keyId };
  }
  if (input.producer !== identity) {
    return { ok: false, reason: 'producer_mismatch', detail: `envelope says producer ${input.producer}, signed by ${identity}`, keyId };
  }
  return { ok: true, identity, keyId };
}

/** The two headers for an event whose payload is exactly `payload`. */
export function signEventPayload(key: SigningKey, payload: Uint8Array): { signature: string; keyId: string } {
  return { signature: signBytes(key, payload), keyId: key.keyId };
}
