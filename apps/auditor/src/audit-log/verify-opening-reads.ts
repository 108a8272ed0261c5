import type { EntityManager } from 'typeorm';
import type { SignedPoint, Tombstone } from '@autoheal/evidence';
import { signedPointsRepository as points } from '../evidence/signed-points.repository.js';
import { auditLogRepository as repo } from './audit-log.repository.js';
import { needsFullVerification, type ChainedRow, type ChainHead, type EvidenceRow, type VerifiedPoint } from './hash-chain.js';

/**
 * What resuming after the verified point needs, read ahead with the opening reads: the row at the
 * point, the checkpoints after it, the row the stream's latest checkpoint names when that is not
 * after the point, and the first batch of rows after it.
 */
export interface ResumeReads {
  /** The verified point's seq these reads were made for. */
  seq: number;
  row: ChainedRow | null;
  checkpointsAfter: SignedPoint[];
  /** The row at the stream's latest checkpoint, when it is at or before the point (null otherwise). */
  anchorRow: ChainedRow | null;
  /** Up to `batchSize` rows after the point, up to the head. */
  firstBatch: EvidenceRow[];
}

export interface OpeningReads {
  head: ChainHead | null;
  found: VerifiedPoint | null;
  firstCheckpoint: number | null;
  firstSealed: number | null;
  tombstones: Tombstone[];
  /** Null when the verification will start from the first row (asked, no point yet, or the last whole one too old). */
  resume: ResumeReads | null;
}

export interface OpeningReadsOptions {
  askedFull: boolean;
  nowMs: number;
  fullVerifyAfterMs: number;
  /** The seq of the stream's latest checkpoint (read before these reads), if any. */
  externalSeq: number | null;
  batchSize: number;
}

/**
 * A verification's opening reads, all in the caller's one transaction: a tenant verifying
 * regularly resumes after its verified point, and everything that needs is read here at once
 * instead of in four more transactions (each a BEGIN, the scope, the read and a COMMIT: on a
 * loaded database every round trip waits its turn). Read ahead only when the verification will
 * resume: a full one reads none of it. The tombstones can still move the start (rows archived
 * past the point, or a tombstone that does not hold); the caller then drops `resume` and reads
 * what it needs itself.
 */
export async function readOpening(m: EntityManager, tenantId: string, options: OpeningReadsOptions): Promise<OpeningReads> {
  const head = await repo.head(m, tenantId);
  const found = await repo.verifiedPoint(m, tenantId);
  const firstCheckpoint = await points.firstCheckpointSeq(m, tenantId);
  const firstSealed = await points.firstSealedSeq(m, tenantId);
  const tombstones = await points.tombstones(m, tenantId);
  const resumes = found !== null && !options.askedFull && !needsFullVerification(found, options.nowMs, options.fullVerifyAfterMs);
  if (!resumes) return { head, found, firstCheckpoint, firstSealed, tombstones, resume: null };
  const untilSeq = head?.seq ?? 0;
  const anchorSeq = options.externalSeq !== null && options.externalSeq <= found.seq ? options.externalSeq : null;
  const resume: ResumeReads = {
    seq: found.seq,
    row: await repo.rowAt(m, tenantId, found.seq),
    checkpointsAfter: await points.checkpointsAfter(m, tenantId, found.seq),
    anchorRow: anchorSeq === null ? null : await repo.rowAt(m, tenantId, anchorSeq),
    firstBatch: untilSeq > found.seq ? await repo.chainBatch(m, tenantId, found.seq, untilSeq, options.batchSize) : [],
  };
  return { head, found, firstCheckpoint, firstSealed, tombstones, resume };
}
