import { hashRow, START_OF_CHAIN, type ChainBreak, type ChainedRow, type ChainVerification } from '@autoheal/evidence';

/**
 * The tamper-evident part of the audit log. The row hash, the signed points (seals, checkpoints)
 * and the verification of a chain against them are `@autoheal/evidence` (shared with the offline
 * bundle verifier); what is here is how this service resumes a verification after the point the
 * last one reached.
 */
export {
  canonicalJson,
  chainNext,
  closeChain,
  EMPTY_HEAD,
  encodeFields,
  GENESIS_HASH,
  HASH_FORMAT,
  hashRow,
  NO_EVIDENCE,
  START_OF_CHAIN,
  verifyChain,
  type ChainBreak,
  type ChainBreakReason,
  type ChainedFields,
  type ChainedRow,
  type ChainHead,
  type ChainVerification,
  type Evidence,
  type EvidenceRow,
  type JsonValue,
  type Outcome,
} from '@autoheal/evidence';

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
 * What this cannot see by itself: a rewrite of rows *before* the point whose writer also rewrote
 * the point, or rewrote every row from there to the point consistently. A full verification (from
 * seq 1) sees it, and so does the latest signed checkpoint: a rewrite that recomputes the chain
 * changes the hash at every later seq, the checkpoint's too (AuditReadService checks it each time).
 */
export function resumeAfter(point: VerifiedPoint, stored: ChainedRow | null): ChainVerification {
  const from: ChainVerification = { ...START_OF_CHAIN, headSeq: point.seq, headHash: point.hash, checkpointedSeq: point.seq };
  if (stored === null) {
    const gap: ChainBreak = {
      seq: point.seq,
      lastSeq: null,
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
      lastSeq: null,
      reason: 'hash_mismatch',
      expectedHash: point.hash,
      actualHash: stored.hash,
      detail: `seq ${point.seq} is not the row verified intact at ${point.verifiedAt}`,
    };
    return { ...from, ok: false, firstBreak: changed };
  }
  return from;
}
