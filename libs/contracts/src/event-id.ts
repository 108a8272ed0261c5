import { createHmac, randomBytes } from 'node:crypto';

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then randomness. Ids sort by creation
 * time, which keeps outbox scans and audit queries in insertion order without a second column.
 */
export function newEventId(nowMs: number = Date.now()): string {
  const bytes = randomBytes(16);
  const ms = BigInt(nowMs);
  for (let i = 0; i < 6; i++) {
    bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70; // version 7
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const EVENT_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The JetStream deduplication key (`Nats-Msg-Id`) of an event on a stream that only our services
 * may write (incidents, remediations, compliance, security): its id in its tenant's namespace.
 * Deterministic, so that the outbox writer and its relay — in any replica — publish a row under
 * the same key and it is stored once. Never use it where a tenant's producer can publish (HEALTH):
 * the header is the publisher's to choose, so a key anyone can compute is a key anyone can
 * pre-claim (see healthDeduplicationKey).
 */
export function deduplicationKey(tenantId: string, eventId: string): string {
  return `${tenantId}:${eventId}`;
}

/** Length of the secret a health deduplication key is derived with, in bytes. */
export const HEALTH_DEDUPLICATION_SECRET_BYTES = 32;

/** A fresh secret for healthDeduplicationKey: one per publishing process is enough. */
export function newHealthDeduplicationSecret(): Buffer {
  return randomBytes(HEALTH_DEDUPLICATION_SECRET_BYTES);
}

/**
 * The `Nats-Msg-Id` of a health event: `<tenant>:<event id>:<tag>`, the tag an HMAC-SHA256 of
 * tenant and id under the publisher's secret (128 bits, base64url).
 *
 * JetStream deduplicates per stream, across every subject, by a header the publisher chooses, and
 * every tenant's producers write into the one HEALTH stream. A key derived from public facts
 * (tenant, event id) can therefore be sent first by another tenant on its own subject, and the
 * real event is then answered `duplicate` and dropped; no naming convention can stop that, and
 * the server's smallest duplicate window (100 ms; 0 means the 2-minute default) only makes the
 * attacker repeat itself. A key nobody else can compute before the event is stored cannot be
 * pre-claimed, while a retry of the same publish — same secret, same event — still gets the same
 * key and is stored once. The tenant and id stay readable for whoever inspects the stream.
 */
export function healthDeduplicationKey(secret: Uint8Array, tenantId: string, eventId: string): string {
  if (secret.length < 16) throw new RangeError(`a health deduplication secret needs at least 16 bytes, got ${secret.length}`);
  const tag = createHmac('sha256', secret).update(`${tenantId}\0${eventId}`, 'utf8').digest().subarray(0, 16).toString('base64url');
  return `${tenantId}:${eventId}:${tag}`;
}
