import { GENESIS_HASH, hashRow, type ChainedRow } from './row-hash.js';
import { checkSignedPoint, type KeyResolver, type SignedPoint } from './signed-point.js';

/**
 * Verifying a tenant's chain against itself and against what the auditor signed: the one
 * judgement behind `GET …/audit/verify` (in batches, from the database) and `verify-bundle` (from
 * an export, offline). Plain functions over data.
 *
 * - `seq_gap`, `prev_hash_mismatch`, `hash_mismatch`: the chain itself is broken (a row edited,
 *   removed or moved without recomputing the hashes after it).
 * - `seal_mismatch`, `unsealed_row`: the chain holds, but a row is not the one the auditor sealed
 *   when it appended it, or has no seal: rows rewritten with the chain recomputed (edit, insert,
 *   delete or reorder, then re-hashed), or a well-chained row someone else wrote.
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
   * Rows with a greater seq must carry a valid seal. The earliest seq any signed point is known
   * for (first checkpoint, or the seq before the first sealed row): rows up to it predate sealing
   * and are vouched for by the chain up to that point. Infinity: no row need be sealed.
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
  for (const row of rows) {
    const found = checkRow(row, headSeq + 1, headHash, evidence) ?? checkCheckpointAt(row, evidence, checkpointedSeq);
    if (found && !firstBreak) firstBreak = found;
    const checkpoint = evidence.checkpoints.get(row.seq);
    if (checkpoint && checkpoint.headHash === row.hash && checkSignedPoint('checkpoint', checkpoint, evidence.keys) === null) checkpointedSeq = row.seq;
    checkedRows += 1;
    headSeq = row.seq;
    headHash = row.hash;
  }
  return { ok: firstBreak === null, checkedRows, headSeq, headHash, firstBreak, checkpointedSeq };
}

function checkRow(row: EvidenceRow, expectedSeq: number, expectedPrevHash: string, evidence: Evidence): ChainBreak | null {
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
  if (row.seq <= evidence.sealedAfter) return null;
  const seal = row.seal ?? null;
  if (seal === null) {
    return {
      seq: row.seq,
      lastSeq: null,
      reason: 'unsealed_row',
      expectedHash: null,
      actualHash: row.hash,
      detail: `seq ${row.seq} has no seal: the auditor did not append it (rows after seq ${evidence.sealedAfter} are sealed)`,
    };
  }
  const problem = seal.tenantId !== row.tenantId || seal.seq !== row.seq ? 'names another row' : checkSignedPoint('seal', seal, evidence.keys);
  if (problem !== null || seal.headHash !== row.hash) {
    return {
      seq: row.seq,
      lastSeq: null,
      reason: 'seal_mismatch',
      expectedHash: seal.headHash,
      actualHash: row.hash,
      detail:
        problem === null
          ? `seq ${row.seq} is not the row the auditor sealed at ${seal.signedAt}: it was rewritten and the chain recomputed`
          : `the seal of seq ${row.seq} does not hold (${problem}, key ${seal.keyId})`,
    };
  }
  return null;
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
 * the first missing seq on were removed (a truncated tail).
 */
export function closeChain(from: ChainVerification, untilSeq: number, latest: SignedPoint | null, keys: KeyResolver): ChainVerification {
  if (from.firstBreak) return from;
  let found: ChainBreak | null = null;
  if (from.headSeq < untilSeq) found = rowsMissing(from.headSeq + 1, untilSeq, `rows ${from.headSeq + 1} to ${untilSeq} are missing`);
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
