import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { newEventId } from '@autoheal/contracts';
import { auditorMetrics } from '../auditor.metrics.js';
import { AUDITOR_CONFIG } from '../auditor.tokens.js';
import { CLOCK, type Clock } from '../clock.js';
import type { AuditorConfig } from '../config.js';
import { decodeCursor, encodeCursor } from './audit-cursor.js';
import { auditEntryForVerify } from './audit-entry.js';
import { AuditLogError, AuditLogErrorCode } from './audit-log.errors.js';
import { auditLogRepository as repo, type ReadScope } from './audit-log.repository.js';
import { AUDIT_READ_DB } from './audit-read-pool.js';
import { AuditReadRecorder } from './audit-read-recorder.js';
import { expectRowsUpTo, needsFullVerification, resumeAfter, START_OF_CHAIN, verifyChain, type ChainBreak, type ChainedRow, type ChainVerification, type JsonValue } from './hash-chain.js';
import { AuditReadLimiter } from './read-limits.js';
import type { ReadKind } from './read-records.js';

export interface AuditQuery {
  limit: number;
  cursor?: string;
  type?: string;
  from?: string;
  to?: string;
  correlationId?: string;
}

export interface AuditPage {
  items: ChainedRow[];
  nextCursor: string | null;
}

export interface VerifyReport {
  tenantId: string;
  ok: boolean;
  /** Rows read by this verification: those after `fromSeq`. */
  checkedRows: number;
  headSeq: number;
  headHash: string;
  firstBreak: ChainBreak | null;
  /** The verified point it resumed after (0: from the first row). */
  fromSeq: number;
  /** True for a verification from the first row: asked for (`full=true`), the first one, or the last whole one too old. */
  full: boolean;
}

/** Who is calling the REST API: the API key's id, whose rows its credential may see, and where the request came from. */
export interface ApiCaller {
  actor: string;
  source: string;
  scope: ReadScope;
}

/** Rows per batch of a verification: one short read each, on the read pool. */
export const VERIFY_BATCH = 1_000;

/**
 * Rows hashed before a verification lets the event loop run again. Hashing a row takes tens of
 * µs (more on a busy machine): a whole batch at once held every other request of the auditor
 * (another tenant's page read, the appenders) behind 50 ms or more per batch, for as long as a
 * long chain was being verified.
 */
export const VERIFY_SLICE_ROWS = 100;

/** A turn of the event loop: waiting I/O callbacks and timers run before the verification goes on. */
const yieldToEventLoop = () => new Promise<void>((resume) => setImmediate(resume));

/**
 * Reading the audit trail over REST, so that reads never stall writes: each read is charged to
 * its API key's budget before it touches the database; it reads through a pool of its own
 * (AUDIT_READ_DB: the reader role, row-level security scoped to the caller's credential), in
 * short transactions, never under a lock the appenders take; and it is counted into one
 * `audit.read` row per key, tenant and window (AuditReadRecorder) instead of appending a row.
 */
@Injectable()
export class AuditReadService {
  /** Verifications under way, per tenant, kind and scope: callers asking at once share one pass over the chain. */
  private readonly verifying = new Map<string, Promise<VerifyReport>>();

  private readonly fullVerifyAfterMs: number;

  constructor(
    @Inject(AUDIT_READ_DB) private readonly readDb: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDITOR_CONFIG) config: AuditorConfig,
    private readonly reads: AuditReadRecorder,
    private readonly limits: AuditReadLimiter,
  ) {
    this.fullVerifyAfterMs = config.AUDITOR_FULL_VERIFY_AFTER_HOURS * 3_600_000;
  }

  /**
   * One page of a tenant's trail (empty for a tenant without a chain). The read is counted into
   * the caller's `audit.read` window for the tenant, appended when the window closes.
   */
  async list(tenantId: string, query: AuditQuery, caller: ApiCaller): Promise<AuditPage> {
    const filter = {
      afterSeq: query.cursor === undefined ? 0 : decodeCursor(query.cursor),
      limit: query.limit,
      type: query.type,
      from: query.from === undefined ? undefined : new Date(query.from),
      to: query.to === undefined ? undefined : new Date(query.to),
      correlationId: query.correlationId,
    };
    if (filter.from && filter.to && filter.from >= filter.to) {
      throw new AuditLogError(AuditLogErrorCode.InvalidTimeRange, 'from must be before to', 'from');
    }
    this.takeBudget(tenantId, caller, 'list');
    const rows = await this.read(caller.scope, tenantId, (m) => repo.list(m, tenantId, filter));
    const items = rows.slice(0, query.limit);
    const more = rows.length > query.limit;
    this.reads.note({ tenantId, actor: caller.actor, outcome: 'success', kind: 'list', source: caller.source, returnedItems: items.length, query: queryAsJson(query) });
    return { items, nextCursor: more ? encodeCursor(items[items.length - 1].seq) : null };
  }

  /**
   * Recomputes the tenant's chain after its last verified point (`full`, or no point yet, or the
   * last whole verification older than AUDITOR_FULL_VERIFY_AFTER_HOURS: from the first row),
   * in batches of short reads on the read pool, up to the head as it was when the verification
   * began. A clean pass moves the verified point to that head; a break is appended to the trail
   * at once as an `audit.verify` row with the verdict.
   */
  async verify(tenantId: string, caller: ApiCaller, options: { full: boolean } = { full: false }): Promise<VerifyReport> {
    const kind: ReadKind = options.full ? 'full_verify' : 'verify';
    this.takeBudget(tenantId, caller, kind);
    // Shared only between callers whose credentials see the same rows (an ops key, or the tenant's own keys).
    const key = `${kind}\u0000${tenantId}\u0000${caller.scope.kind === 'all' ? '*' : caller.scope.tenantId}`;
    let running = this.verifying.get(key);
    if (!running) {
      running = this.verifyOnce(tenantId, caller, options.full).finally(() => this.verifying.delete(key));
      this.verifying.set(key, running);
    }
    const report = await running;
    this.reads.note({ tenantId, actor: caller.actor, outcome: 'success', kind, source: caller.source, returnedItems: 0 });
    return report;
  }

  private async verifyOnce(tenantId: string, caller: ApiCaller, askedFull: boolean): Promise<VerifyReport> {
    const started = this.clock.now();
    const { head, found } = await this.read(caller.scope, tenantId, async (m) => ({
      head: await repo.head(m, tenantId),
      found: await repo.verifiedPoint(m, tenantId),
    }));
    // From the first row when asked, when there is no point yet, or when the last whole verification is too old.
    const full = askedFull || needsFullVerification(found, started.getTime(), this.fullVerifyAfterMs);
    const point = full ? null : found;
    let state: ChainVerification = START_OF_CHAIN;
    if (point) {
      const stored = await this.read(caller.scope, tenantId, (m) => repo.rowAt(m, tenantId, point.seq));
      state = resumeAfter(point, stored);
    }
    const untilSeq = head?.seq ?? 0;
    while (state.headSeq < untilSeq) {
      const afterSeq = state.headSeq;
      const batch = await this.read(caller.scope, tenantId, (m) => repo.chainBatch(m, tenantId, afterSeq, untilSeq, VERIFY_BATCH));
      if (batch.length === 0) break;
      for (let from = 0; from < batch.length; from += VERIFY_SLICE_ROWS) {
        if (from > 0) await yieldToEventLoop();
        state = verifyChain(batch.slice(from, from + VERIFY_SLICE_ROWS), state);
      }
    }
    state = expectRowsUpTo(state, untilSeq);
    const report: VerifyReport = { tenantId, ...state, fromSeq: point?.seq ?? 0, full };
    if (report.ok && report.headSeq > 0 && (full || report.headSeq > (point?.seq ?? 0))) {
      await this.reads.saveVerifiedPoint(tenantId, { seq: report.headSeq, hash: report.headHash, verifiedAt: started.toISOString() }, full);
    }
    if (!report.ok) await this.recordBrokenChain(tenantId, caller, report);
    return report;
  }

  private async recordBrokenChain(tenantId: string, caller: ApiCaller, report: VerifyReport): Promise<void> {
    const at = this.clock.now();
    const entry = auditEntryForVerify(
      { actor: caller.actor, source: caller.source, tenantId, at, eventId: newEventId(at.getTime()) },
      {
        ok: report.ok,
        full: report.full,
        fromSeq: report.fromSeq,
        checkedRows: report.checkedRows,
        headSeq: report.headSeq,
        firstBreakSeq: report.firstBreak?.seq ?? null,
        reason: report.firstBreak?.reason ?? null,
      },
    );
    await this.reads.recordNow(entry);
  }

  /** Takes the read's cost from the caller's budget; a refusal is counted in the trail and thrown. */
  private takeBudget(tenantId: string, caller: ApiCaller, kind: ReadKind): void {
    const refused = this.limits.take(caller.actor, kind);
    if (!refused) return;
    auditorMetrics.readsLimited.inc({ limit: refused.limit });
    this.reads.note({ tenantId, actor: caller.actor, outcome: 'refused', kind, status: 429, source: caller.source });
    throw new AuditLogError(AuditLogErrorCode.RateLimited, refused.description, undefined, refused);
  }

  /** One short transaction on the read pool, scoped (row-level security) to what the caller's credential may see. */
  private read<T>(scope: ReadScope, tenantId: string, work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.readDb.transaction(async (m) => {
      await repo.setScope(m, scope, tenantId);
      return work(m);
    });
  }
}

function queryAsJson(query: AuditQuery): { [key: string]: JsonValue } {
  const json: { [key: string]: JsonValue } = {};
  for (const [key, value] of Object.entries(query)) if (value !== undefined) json[key] = value as JsonValue;
  return json;
}
