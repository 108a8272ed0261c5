import { GENESIS_HASH, hashRow, type ChainedRow } from './row-hash.js';
import { checkSignedPoint, sealStart, type KeyResolver, type SignedPoint } from './signed-point.js';

/**
 * Verifying a tenant's chain against itself and against what the auditor signed: the one
 * judgement behind `GET …/audit/verify` (in batches, from the database) and `verify-bundle` (from
 * an export, offline). Plain functions over data.
 *
 * - `seq_gap`, `prev_hash_mismatch`, `hash_mismatch`: the chain itself is broken (a row edited,
 *   removed or moved without recomputing the hashes after it).
 * - `seal_mismatch`, `unsealed_row`: the chain holds, but rows are not the ones the auditor sealed
 *   when it appended them, or lie outside every seal's range: rows rewritten with the chain
 *   recomputed (edit, insert, delete or reorder, then re-hashed), or well-chained rows someone else
 *   wrote. A seal covers the range of rows one append transaction wrote for the tenant (a v1 seal,
 *   one row); the ranges must follow each other without a gap, so a row slipped in between two
 *   of the auditor's transactions is in none. The first seq not covered is named (with the range).
 * - `checkpoint_mismatch`: a signed checkpoint vouches for another hash at its seq; the rows from
 *   the previous matching checkpoint on were rewritten (the range is reported).
 * - `checkpoint_invalid`: a checkpoint whose signature or key does not hold.
 * - `rows_missing`: rows a checkpoint (or the head the verification started from) says exist are
 *   gone — a truncated tail; the range is reported.
 * - `tombstone_invalid`: the signed tombstones standing for archived, dropped rows do not hold
 *   (signature, or not contiguous from seq 1): see tombstone.ts.
 */
export type ChainBreakReason =
  | 'seq_gap'
  | 'prev_hash_mismatch'
  | 'hash_mismatch'
  | 'seal_mismatch'
  | 'unsealed_row'
  | 'checkpoint_mismatch'
  | 'checkpoint_invalid'
  | 'rows_missing'
  | 'tombstone_invalid';

export interface ChainBreak {
  /** The first seq at which the chain stops being what was written (for a range, its first seq). */
  seq: number;
  /** The last seq of the affected range when it is a range (rows missing, rows a checkpoint no longer matches); null for one row. */
  lastSeq: number | null;
  reason: ChainBreakReason;
  /** What the chain, a seal or a checkpoint says should be there; null when nothing says. */
  expectedHash: string | null;
  /** What the row holds; null when there is no row. */
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
  /** The last seq a valid signed checkpoint was found to match (0: none yet). */
  checkpointedSeq: number;
  /**
   * Every row up to this seq is covered by a valid seal (or predates sealing, or was vouched for
   * before this verification began); the rows after it up to the head wait for the seal of their
   * range. Absent: taken as `headSeq` (a verification resumed from a point that held).
   */
  sealedTo?: number;
}

export const START_OF_CHAIN: ChainVerification = { ok: true, checkedRows: 0, headSeq: 0, headHash: GENESIS_HASH, firstBreak: null, checkpointedSeq: 0 };

/** A row as verified: with the auditor's seal, when it has one. */
export interface EvidenceRow extends ChainedRow {
  seal?: SignedPoint | null;
}

/** What the rows are checked against, besides themselves. */
export interface Evidence {
  /** Checkpoints of the tenant by seq (their signatures are checked when their row is reached). */
  checkpoints: ReadonlyMap<number, SignedPoint>;
  /**
   * Rows with a greater seq must be covered by a valid seal. The earliest seq any signed point is
   * known for (first checkpoint, or the seq before the first seal's range): rows up to it predate
   * sealing and are vouched for by the chain up to that point. Infinity: no row need be sealed.
   */
  sealedAfter: number;
  /** The auditor's public keys that may sign (current and retired). */
  keys: KeyResolver;
}

export const NO_EVIDENCE: Evidence = { checkpoints: new Map(), sealedAfter: Number.POSITIVE_INFINITY, keys: () => null };

/**
 * Checks rows of one tenant, given in ascending seq, continuing from `from` (the result of the
 * previous batch). Every row is read, so checkedRows and the head describe the whole chain, but
 * only the first break is reported: after it, the chain is followed from what is stored, so that
 * one tampered row is reported once rather than as a cascade.
 */
export function verifyChain(rows: readonly EvidenceRow[], from: ChainVerification = START_OF_CHAIN, evidence: Evidence = NO_EVIDENCE): ChainVerification {
  let { checkedRows, headSeq, headHash, firstBreak, checkpointedSeq } = from;
  let sealedTo = from.sealedTo ?? from.headSeq;
  for (const row of rows) {
    let found = checkRow(row, headSeq + 1, headHash) ?? checkCheckpointAt(row, evidence, checkpointedSeq);
    if (row.seq <= evidence.sealedAfter) sealedTo = Math.max(sealedTo, row.seq);
    else if (row.seal) {
      found ??= checkSeal(row, row.seal, sealedTo, evidence.keys);
      // Past a bad seal the next range is judged on its own: one rewrite is reported once.
      sealedTo = row.seq;
    }
    if (found && !firstBreak) firstBreak = found;
    const checkpoint = evidence.checkpoints.get(row.seq);
    if (checkpoint && checkpoint.headHash === row.hash && checkSignedPoint('checkpoint', checkpoint, evidence.keys) === null) checkpointedSeq = row.seq;
    checkedRows += 1;
    headSeq = row.seq;
    headHash = row.hash;
  }
  return { ok: firstBreak === null, checkedRows, headSeq, headHash, firstBreak, checkpointedSeq, sealedTo };
}

function checkRow(row: EvidenceRow, expectedSeq: number, expectedPrevHash: string): ChainBreak | null {
  if (row.seq !== expectedSeq) {
    return { seq: expectedSeq, lastSeq: null, reason: 'seq_gap', expectedHash: null, actualHash: null, detail: `expected seq ${expectedSeq}, found ${row.seq}` };
  }
  if (row.prevHash !== expectedPrevHash) {
    return {
      seq: row.seq,
      lastSeq: null,
      reason: 'prev_hash_mismatch',
      expectedHash: expectedPrevHash,
      actualHash: row.prevHash,
      detail: `prev_hash of seq ${row.seq} is not the hash of seq ${row.seq - 1}`,
    };
  }
  const recomputed = hashRow(row);
  if (recomputed !== row.hash) {
    return { seq: row.seq, lastSeq: null, reason: 'hash_mismatch', expectedHash: recomputed, actualHash: row.hash, detail: `the content of seq ${row.seq} does not match its hash` };
  }
  return null;
}

/**
 * The seal stored at `row` (the last row of its range), when every row up to `sealedTo` is
 * covered: it must hold, name this row, vouch for its hash, and its range must start no later
 * than the first row not yet covered.
 */
function checkSeal(row: EvidenceRow, seal: SignedPoint, sealedTo: number, keys: KeyResolver): ChainBreak | null {
  const first = sealedTo + 1;
  const range = (last: number) => (first === last ? `seq ${first}` : `rows ${first} to ${last}`);
  const problem = seal.tenantId !== row.tenantId || seal.seq !== row.seq ? 'names another row' : checkSignedPoint('seal', seal, keys);
  if (problem !== null || seal.headHash !== row.hash) {
    return {
      seq: first,
      lastSeq: first === row.seq ? null : row.seq,
      reason: 'seal_mismatch',
      expectedHash: seal.headHash,
      actualHash: row.hash,
      detail:
        problem === null
          ? `${range(row.seq)} are not the rows the auditor sealed at ${seal.signedAt}: rewritten and the chain recomputed`
          : `the seal of ${range(row.seq)} does not hold (${problem}, key ${seal.keyId})`,
    };
  }
  const start = sealStart(seal);
  if (start > first) return unsealed(first, start - 1);
  return null;
}

function unsealed(first: number, last: number): ChainBreak {
  const range = first === last ? `seq ${first} has` : `rows ${first} to ${last} have`;
  return {
    seq: first,
    lastSeq: first === last ? null : last,
    reason: 'unsealed_row',
    expectedHash: null,
    actualHash: null,
    detail: `${range} no seal: the auditor did not append ${first === last ? 'it' : 'them'}`,
  };
}

function checkCheckpointAt(row: EvidenceRow, evidence: Evidence, checkpointedSeq: number): ChainBreak | null {
  const checkpoint = evidence.checkpoints.get(row.seq);
  return checkpoint ? checkpointAgainstRow(checkpoint, row, evidence.keys, checkpointedSeq) : null;
}

/**
 * A checkpoint held against the row stored at its seq (null: no such row). `checkpointedSeq`: the
 * last seq before it a checkpoint was found to match, where a rewrite can have begun at the earliest.
 */
export function checkpointAgainstRow(checkpoint: SignedPoint, row: ChainedRow | null, keys: KeyResolver, checkpointedSeq: number): ChainBreak | null {
  const problem = checkSignedPoint('checkpoint', checkpoint, keys);
  if (problem !== null) {
    return {
      seq: checkpoint.seq,
      lastSeq: null,
      reason: 'checkpoint_invalid',
      expectedHash: checkpoint.headHash,
      actualHash: row?.hash ?? null,
      detail: `the checkpoint at seq ${checkpoint.seq} (signed ${checkpoint.signedAt}) does not hold: ${problem} (key ${checkpoint.keyId})`,
    };
  }
  if (row === null) return rowsMissing(checkpoint.seq, checkpoint.seq, `seq ${checkpoint.seq}, which the checkpoint signed at ${checkpoint.signedAt} vouches for, is missing`);
  if (row.hash === checkpoint.headHash) return null;
  return {
    seq: checkpointedSeq + 1,
    lastSeq: checkpoint.seq,
    reason: 'checkpoint_mismatch',
    expectedHash: checkpoint.headHash,
    actualHash: row.hash,
    detail: `seq ${checkpoint.seq} is not the row the checkpoint signed at ${checkpoint.signedAt} vouches for: rows ${checkpointedSeq + 1} to ${checkpoint.seq} were rewritten`,
  };
}

function rowsMissing(first: number, last: number, detail: string): ChainBreak {
  return { seq: first, lastSeq: last, reason: 'rows_missing', expectedHash: null, actualHash: null, detail };
}

/**
 * Closes a verification that expected rows up to `untilSeq` (the head when it began) and, when a
 * checkpoint from outside the database is known, up to its seq: fewer rows means the rows from
 * the first missing seq on were removed (a truncated tail). Rows at the end that no seal's range
 * reaches (after `sealedAfter`) were not appended by the auditor.
 */
export function closeChain(from: ChainVerification, untilSeq: number, latest: SignedPoint | null, keys: KeyResolver, sealedAfter: number): ChainVerification {
  if (from.firstBreak) return from;
  let found: ChainBreak | null = null;
  // Rows after the last seal's range that no seal covers (a seal is written with its rows, in their transaction).
  const sealedTo = Math.max(from.sealedTo ?? from.headSeq, Math.min(sealedAfter, from.headSeq));
  if (from.headSeq < untilSeq) found = rowsMissing(from.headSeq + 1, untilSeq, `rows ${from.headSeq + 1} to ${untilSeq} are missing`);
  else if (sealedTo < from.headSeq) found = unsealed(sealedTo + 1, from.headSeq);
  else if (latest && latest.seq > from.headSeq) {
    const problem = checkSignedPoint('checkpoint', latest, keys);
    found =
      problem === null
        ? rowsMissing(
            from.headSeq + 1,
            latest.seq,
            `rows ${from.headSeq + 1} to ${latest.seq} are missing: the checkpoint signed at ${latest.signedAt} vouches for seq ${latest.seq}, the chain ends at ${from.headSeq}`,
          )
        : checkpointAgainstRow(latest, null, keys, from.checkpointedSeq);
  }
  return found ? { ...from, ok: false, firstBreak: found } : from;
}
