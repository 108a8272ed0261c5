import { createHash } from 'node:crypto';
import { canonicalJson } from '@autoheal/contracts';

/**
 * The hash of one audit row, as plain functions over data. Specified for reimplementation in
 * docs/audit-row-hash.md; the database computes the same in SQL (the auditor's migration
 * 1765000000000-auditor-append-function.ts) and the auditor's `sql-hash-chain.int-spec.ts` holds
 * the two to the same result.
 *
 * Each tenant has one chain. A row's hash is sha256 over a canonical, length-prefixed encoding of
 * every column of the row (its own hash aside), including the previous row's hash; the first
 * row's previous hash is GENESIS_HASH.
 */
export const GENESIS_HASH = '0'.repeat(64);

/** Bumped if the encoding below ever changes; it is the first field hashed. */
export const HASH_FORMAT = 'autoheal.audit.v1';

export type Outcome = 'success' | 'failure' | 'refused' | 'info';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** One audit row as hashed. Timestamps are RFC 3339 UTC with milliseconds (`toISOString()`). */
export interface ChainedFields {
  tenantId: string;
  seq: number;
  prevHash: string;
  eventId: string;
  eventType: string;
  occurredAt: string;
  recordedAt: string;
  actor: string;
  action: string;
  outcome: Outcome;
  resource: JsonValue;
  source: string;
  correlationId: string | null;
  causationId: string | null;
  traceId: string | null;
  payload: JsonValue;
}

export interface ChainedRow extends ChainedFields {
  hash: string;
}

/**
 * JSON with object keys sorted (by UTF-16 code unit, as Array.prototype.sort does) and no
 * whitespace (`@autoheal/contracts`). Postgres jsonb reorders keys, so the hash must not depend on key order.
 */
export { canonicalJson };

/**
 * `<byte length>:<utf-8 bytes>,` per field (a netstring), `~` for null. A length prefix makes the
 * concatenation unambiguous: no choice of field values can make two different inputs encode to
 * the same bytes. Used for rows here and for signed points (signed-point.ts).
 */
export function netstrings(parts: readonly (string | null)[]): Buffer {
  return Buffer.concat(
    parts.map((p) => {
      if (p === null) return Buffer.from('~');
      const bytes = Buffer.from(p, 'utf8');
      return Buffer.concat([Buffer.from(`${bytes.length}:`), bytes, Buffer.from(',')]);
    }),
  );
}

/**
 * The same bytes as `netstrings(parts)`, as one string to be UTF-8 encoded: the length prefixes
 * are UTF-8 byte lengths, and a part's encoding does not depend on its neighbours (each part is
 * followed by `,` and preceded by `:`, never by half a surrogate pair). Hashing it allocates one
 * string instead of four buffers per part: a verification of a long chain spent a quarter of its
 * time building and collecting those buffers.
 */
export function netstringText(parts: readonly (string | null)[]): string {
  let text = '';
  for (const p of parts) text += p === null ? '~' : `${Buffer.byteLength(p, 'utf8')}:${p},`;
  return text;
}

function fieldParts(fields: ChainedFields): (string | null)[] {
  return [
    HASH_FORMAT,
    fields.tenantId,
    String(fields.seq),
    fields.prevHash,
    fields.eventId,
    fields.eventType,
    fields.occurredAt,
    fields.recordedAt,
    fields.actor,
    fields.action,
    fields.outcome,
    canonicalJson(fields.resource),
    fields.source,
    fields.correlationId,
    fields.causationId,
    fields.traceId,
    canonicalJson(fields.payload),
  ];
}

export function encodeFields(fields: ChainedFields): Buffer {
  return netstrings(fieldParts(fields));
}

/** sha256 of `encodeFields(fields)`, hashed from the text (netstringText) without building the buffer. */
export function hashRow(fields: ChainedFields): string {
  return createHash('sha256').update(netstringText(fieldParts(fields)), 'utf8').digest('hex');
}

/** The tenant's last row, or the genesis position for an empty chain. */
export interface ChainHead {
  seq: number;
  hash: string;
}

export const EMPTY_HEAD: ChainHead = { seq: 0, hash: GENESIS_HASH };

/**
 * The next row after `head`: its seq and prev_hash follow from the head, its hash from all fields.
 * What `auditor.append_audit_entry` does in the database when the service appends; here for
 * building chains in tests.
 */
export function chainNext(head: ChainHead, fields: Omit<ChainedFields, 'seq' | 'prevHash'>): ChainedRow {
  const full: ChainedFields = { ...fields, seq: head.seq + 1, prevHash: head.hash };
  return { ...full, hash: hashRow(full) };
}
