import { signSeal, type SignedPoint } from '@autoheal/evidence';
import type { SigningKey } from '@autoheal/security';
import type { Clock } from '../clock.js';

/** Provided globally (AuditorCoreModule): every path that appends to the log seals what it appended. */
export const ROW_SEALER = Symbol('ROW_SEALER');

/**
 * Signs the rows the auditor appends — a seal per tenant and append transaction over the range of
 * rows it appended (tenant, first and last seq, the last row's hash, time, key id: through the
 * chain it vouches for every row of the range) — and counts the
 * rows appended per tenant since the last checkpoint, for the checkpoint cadence. One instance per
 * process; the counts are this process's appends (every replica checkpoints what it saw grow).
 */
export class RowSealer {
  private readonly sinceCheckpoint = new Map<string, number>();
  private listener: ((tenantId: string, rows: number) => void) | null = null;

  constructor(
    readonly key: SigningKey,
    private readonly clock: Clock,
  ) {}

  /** The seal of rows `fromSeq`..`seq` of `tenantId`, appended in one transaction; `hash` is the hash at `seq`. */
  seal(tenantId: string, fromSeq: number, seq: number, hash: string): SignedPoint {
    return signSeal(this.key, { tenantId, fromSeq, seq, headHash: hash, signedAt: this.clock.now().toISOString() });
  }

  /** A row of `tenantId` was appended (its transaction may yet roll back: the count is a trigger, not a record). */
  noteAppended(tenantId: string): void {
    const rows = (this.sinceCheckpoint.get(tenantId) ?? 0) + 1;
    this.sinceCheckpoint.set(tenantId, rows);
    this.listener?.(tenantId, rows);
  }

  /** The checkpointer listens: called after every append with the tenant's count since its last checkpoint. */
  onAppended(listener: (tenantId: string, rows: number) => void): void {
    this.listener = listener;
  }

  /** Tenants with rows appended since their last checkpoint. */
  tenantsWithAppends(): string[] {
    return [...this.sinceCheckpoint.keys()];
  }

  /** A checkpoint of `tenantId` was made: its count starts again. */
  resetCount(tenantId: string): void {
    this.sinceCheckpoint.delete(tenantId);
  }
}
