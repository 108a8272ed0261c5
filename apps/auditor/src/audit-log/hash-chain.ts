import { createHash } from 'node:crypto';
import { canonicalJson } from '@autoheal/contracts';

/**
 * The tamper-evident part of the audit log, as plain functions over data. Rows are written by
 * the database (migration 1765000000000-auditor-append-function.ts computes the same hash in SQL)
 * and verified here; `sql-hash-chain.int-spec.ts` holds the two to the same result.
 *
 * Each tenant has one chain. A row's hash is sha256 over a canonical, length-prefixed
 * encoding of every column of the row (its own hash aside), including the previous row's
 * hash; the first row's previous hash is GENESIS_HASH. Changing, removing or reordering a
 * row therefore changes a hash that the next row — or a recomputation — disagrees with.
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
 * `<byte length>:<utf-8 bytes>,` per field (a netstring), `~` for null. A length prefix
 * makes the concatenation unambiguous: no choice of field values can make two different
 * rows encode to the same bytes.
 */
export function encodeFields(fields: ChainedFields): Buffer {
  const parts: (string | null)[] = [
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
  return Buffer.concat(
    parts.map((p) => {
      if (p === null) return Buffer.from('~');
      const bytes = Buffer.from(p, 'utf8');
      return Buffer.concat([Buffer.from(`${bytes.length}:`), bytes, Buffer.from(',')]);
    }),
  );
}

export function hashRow(fields: ChainedFields): string {
  return createHash('sha256').update(encodeFields(fields)).digest('hex');
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
 * building chains in tests. Verification (`verifyChain`) is this module's job in production.
 */
export function chainNext(head: ChainHead, fields: Omit<ChainedFields, 'seq' | 'prevHash'>): ChainedRow {
  const full: ChainedFields = { ...fields, seq: head.seq + 1, prevHash: head.hash };
  return { ...full, hash: hashRow(full) };
}

export type ChainBreakReason = 'seq_gap' | 'prev_hash_mismatch' | 'hash_mismatch';

export interface ChainBreak {
  /** The seq at which the chain stops being what was written: for a gap, the first missing seq. */
  seq: number;
  reason: ChainBreakReason;
  /** What the chain says should be there (previous hash, or recomputed hash); null for a gap. */
  expectedHash: string | null;
  /** What the row holds; null for a gap. */
  actualHash: string | null;
  detail: string;
}

/** Where a verification stands; lets a long chain be verified in batches. */
export interface ChainVerification {
  ok: boolean;
  checkedRows: number;
  headSeq: number;
  headHash: string;
  firstBreak: ChainBreak | null;
}

export const START_OF_CHAIN: ChainVerification = { ok: true, checkedRows: 0, headSeq: 0, headHash: GENESIS_HASH, firstBreak: null };

/**
 * Checks rows of one tenant, given in ascending seq, continuing from `from` (the result of
 * the previous batch). Every row is read, so checkedRows and the head describe the whole
 * chain, but only the first break is reported: after it, the chain is followed from what
 * is stored, so that one tampered row is reported once rather than as a cascade.
 */
export function verifyChain(rows: readonly ChainedRow[], from: ChainVerification = START_OF_CHAIN): ChainVerification {
  let { checkedRows, headSeq, headHash, firstBreak } = from;
  for (const row of rows) {
    const found = checkRow(row, headSeq + 1, headHash);
    if (found && !firstBreak) firstBreak = found;
    checkedRows += 1;
    headSeq = row.seq;
    headHash = row.hash;
  }
  return { ok: firstBreak === null, checkedRows, headSeq, headHash, firstBreak };
}

function checkRow(row: ChainedRow, expectedSeq: number, expectedPrevHash: string): ChainBreak | null {
  if (row.seq !== expectedSeq) {
    return {
      seq: expectedSeq,
      reason: 'seq_gap',
      expectedHash: null,
      actualHash: null,
      detail: `expected seq ${expectedSeq}, found ${row.seq}`,
    };
  }
  if (row.prevHash !== expectedPrevHash) {
    return {
      seq: row.seq,
      reason: 'prev_hash_mismatch',
      expectedHash: expectedPrevHash,
      actualHash: row.prevHash,
      detail: `prev_hash of seq ${row.seq} is not the hash of seq ${row.seq - 1}`,
    };
  }
  const recomputed = hashRow(row);
  if (recomputed !== row.hash) {
    return {
      seq: row.seq,
      reason: 'hash_mismatch',
      expectedHash: recomputed,
      actualHash: row.hash,
      detail: `the content of seq ${row.seq} does not match its hash`,
    };
  }
  return null;
}

/** The last point of a chain that a verification found intact: verification resumes after it. */
export interface VerifiedPoint {
  seq: number;
  hash: string;
  /** RFC 3339 UTC: when that verification ran. */
  verifiedAt: string;
  /** RFC 3339 UTC: when the chain was last verified from its first row. */
  fullVerifiedAt: string;
}

/**
 * Whether a verification must start from the first row instead of resuming after `point`: there
 * is no point, or the chain was last verified whole more than `maxAgeMs` ago (or, impossibly, in
 * the future — a point someone wrote by hand). Bounds how long a rewrite before the point can
 * stay unseen without anyone asking for `full=true`.
 */
export function needsFullVerification(point: VerifiedPoint | null, nowMs: number, maxAgeMs: number): boolean {
  if (!point) return true;
  const fullAt = Date.parse(point.fullVerifiedAt);
  return !(fullAt <= nowMs && nowMs - fullAt <= maxAgeMs);
}

/**
 * Where an incremental verification starts: just after `point`, provided the row at the point is
 * still the row that was verified (`stored`, null when no row has that seq any more). A row
 * rewritten *at* the point or removed from it is reported there; the chain is then followed from
 * the point's hash, so the first row after it is held to what was verified, not to what is stored.
 *
 * What this cannot see: a rewrite of rows *before* the point whose writer also rewrote the
 * point, or rewrote every row from there to the point consistently. Only a full verification
 * (from seq 1) or a signed checkpoint exposes those.
 */
export function resumeAfter(point: VerifiedPoint, stored: ChainedRow | null): ChainVerification {
  const from: ChainVerification = { ok: true, checkedRows: 0, headSeq: point.seq, headHash: point.hash, firstBreak: null };
  if (stored === null) {
    const gap: ChainBreak = {
      seq: point.seq,
      reason: 'seq_gap',
      expectedHash: point.hash,
      actualHash: null,
      detail: `seq ${point.seq}, verified intact at ${point.verifiedAt}, is missing`,
    };
    return { ...from, ok: false, firstBreak: gap };
  }
  if (stored.hash !== point.hash || hashRow(stored) !== stored.hash) {
    const changed: ChainBreak = {
      seq: point.seq,
      reason: 'hash_mismatch',
      expectedHash: point.hash,
      actualHash: stored.hash,
      detail: `seq ${point.seq} is not the row verified intact at ${point.verifiedAt}`,
    };
    return { ...from, ok: false, firstBreak: changed };
  }
  return from;
}

/**
 * Closes a verification that expected rows up to `untilSeq` (the head when it began) and found
 * fewer: the rows from the first missing seq on were removed while, or before, it ran.
 */
export function expectRowsUpTo(from: ChainVerification, untilSeq: number): ChainVerification {
  if (from.headSeq >= untilSeq || from.firstBreak) return from;
  const gap: ChainBreak = {
    seq: from.headSeq + 1,
    reason: 'seq_gap',
    expectedHash: null,
    actualHash: null,
    detail: `rows ${from.headSeq + 1} to ${untilSeq} are missing`,
  };
  return { ...from, ok: false, firstBreak: gap };
}
