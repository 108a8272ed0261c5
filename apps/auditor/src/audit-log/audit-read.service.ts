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
import { buildBundle, chainStartAfterTombstones, checkpointAgainstRow, type SignedPoint } from '@autoheal/evidence';
import { EvidenceReader } from '../evidence/evidence-reader.js';
import { signedPointsRepository as points } from '../evidence/signed-points.repository.js';
import { closeChain, needsFullVerification, resumeAfter, verifyChain, type ChainBreak, type ChainedRow, type ChainVerification, type Evidence, type EvidenceRow, type JsonValue } from './hash-chain.js';
import { AuditReadLimiter } from './read-limits.js';
import { readOpening } from './verify-opening-reads.js';
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
  /** The last seq a valid signed checkpoint was found to match by this verification (0: none). */
  checkpointedSeq: number;
  /** The tenant's latest checkpoint on the AUDIT_CHECKPOINTS stream (null: none, or the stream did not answer). */
  latestCheckpointSeq: number | null;
  /** Whether the stream was asked: without it, a tail removed together with its checkpoints in the database goes unseen. */
  externalCheckpoints: 'consulted' | 'unavailable';
}

export interface ExportQuery {
  /** recorded_at ≥ from (RFC 3339). */
  from?: string;
  /** recorded_at < to. */
  to?: string;
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
 * Rows hashed between two looks at the clock. Hashing a row takes tens of µs (more on a busy
 * machine): a whole batch at once held every other request of the auditor (another tenant's page
 * read, the appenders) behind 50 ms or more per batch, for as long as a long chain was being verified.
 */
export const VERIFY_SLICE_ROWS = 10;

/**
 * The longest a verification hashes before it lets the event loop run again (as the event
 * consumers do, libs/messaging MAX_SYNC_SLICE_MS). Slices of a fixed 100 rows took 8–15 ms under
 * load, and a request of another tenant passes through the loop several times (accepted, read,
 * answered), so it waited behind several of them while one tenant's long chain was verified.
 */
export const VERIFY_SLICE_MS = 2;

/** A turn of the event loop: waiting I/O callbacks and timers run before the verification goes on. */
const yieldToEventLoop = () => new Promise<void>((resume) => setImmediate(resume));

/**
 * Rows a verification checks at full speed before it is paced (see pauseAfterBatch). Enough for
 * what a tenant verifying regularly meets (the rows added since its last verified point) and for
 * the first verification of a young chain; not for one of a long chain from its first row, which
 * costs about 50 µs of the auditor's CPU a row (reading, hashing, collecting the garbage).
 */
export const VERIFY_UNPACED_ROWS = 5_000;

/**
 * How long a verification waits after a batch, so that past its first VERIFY_UNPACED_ROWS rows it
 * keeps the auditor busy at most `pace` of the time (0.25: it waits three times as long as the
 * batch took). Slicing alone gives the loop back every 2 ms, but not the cores: under a tenant's
 * flood of verifications of a 50,000-row chain, the first one (from the first row) took a whole
 * core for about 2.5 s, and another tenant's reads waited behind it in the run queue, its database
 * reads included. Paced, it takes four times as long and a quarter of a core. The batch's own time
 * is measured, not estimated, so a loaded machine, which makes a batch slower, also makes the pause longer.
 */
export function pauseAfterBatch(checkedRows: number, batchMs: number, pace: number): number {
  if (pace >= 1 || checkedRows <= VERIFY_UNPACED_ROWS) return 0;
  return batchMs * (1 / pace - 1);
}

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
  private readonly maxExportRows: number;
  private readonly verifyPace: number;

  constructor(
    @Inject(AUDIT_READ_DB) private readonly readDb: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDITOR_CONFIG) config: AuditorConfig,
    private readonly reads: AuditReadRecorder,
    private readonly limits: AuditReadLimiter,
    private readonly evidence: EvidenceReader,
  ) {
    this.fullVerifyAfterMs = config.AUDITOR_FULL_VERIFY_AFTER_HOURS * 3_600_000;
    this.maxExportRows = config.AUDITOR_EXPORT_MAX_ROWS;
    this.verifyPace = config.AUDITOR_VERIFY_PACE;
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
   * A read of a view derived from the tenant's trail (incidents, remediations, approvals), on the
   * same terms as a page of the trail: charged to the caller's budget, run in one short
   * transaction on the read pool under the caller's row-level security scope, and counted into
   * the caller's `audit.read` window with `kind`. `work` returns its result and how many items it
   * returned.
   */
  async readView<T>(tenantId: string, caller: ApiCaller, kind: ReadKind, query: object, work: (m: EntityManager) => Promise<{ result: T; returnedItems: number }>): Promise<T> {
    this.takeBudget(tenantId, caller, kind);
    const { result, returnedItems } = await this.read(caller.scope, tenantId, work);
    this.reads.note({ tenantId, actor: caller.actor, outcome: 'success', kind, source: caller.source, returnedItems, query: queryAsJson(query) });
    return result;
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
    // The checkpoint outside the database first: one signed after the head is read below would name a seq this verification does not reach.
    const external = await this.evidence.externalCheckpoint(tenantId);
    const opening = await this.read(caller.scope, tenantId, (m) =>
      readOpening(m, tenantId, { askedFull, nowMs: started.getTime(), fullVerifyAfterMs: this.fullVerifyAfterMs, externalSeq: external.point?.seq ?? null, batchSize: VERIFY_BATCH }),
    );
    const { head, found, firstCheckpoint, firstSealed, tombstones } = opening;
    // Rows archived and dropped (retention) are accounted for by their signed tombstones: the chain resumes after the last one.
    await this.evidence.loadKeys(tombstones.map((t) => t.keyId));
    const archived = chainStartAfterTombstones(tombstones, this.evidence.resolver());
    const floor = archived.start;
    // From the first row when asked, when there is no point yet, or when the last whole verification is too old.
    const full = askedFull || needsFullVerification(found, started.getTime(), this.fullVerifyAfterMs);
    const point = full || archived.problem || (found && found.seq <= floor.headSeq) ? null : found;
    // What the opening reads fetched for resuming after the point, unless the tombstones moved the start.
    const resume = point && opening.resume?.seq === point.seq ? opening.resume : null;
    const evidence = await this.evidenceFor(
      tenantId,
      caller,
      Math.max(point?.seq ?? 0, floor.headSeq),
      external.point,
      [firstCheckpoint, firstSealed === null ? null : firstSealed - 1],
      resume?.checkpointsAfter,
    );
    let state: ChainVerification = archived.problem ? { ...floor, ok: false, firstBreak: archived.problem } : floor;
    if (point) {
      const stored = resume ? resume.row : await this.read(caller.scope, tenantId, (m) => repo.rowAt(m, tenantId, point.seq));
      state = resumeAfter(point, stored);
      // Rows before the point are not read again; a rewrite there that recomputed the chain changed the hash the latest checkpoint vouches for.
      if (external.point && external.point.seq <= point.seq && external.point.seq > floor.headSeq && !state.firstBreak) {
        const anchor = external.point;
        const row = resume ? resume.anchorRow : await this.read(caller.scope, tenantId, (m) => repo.rowAt(m, tenantId, anchor.seq));
        const broken = checkpointAgainstRow(anchor, row, evidence.keys, 0);
        if (broken) state = { ...state, ok: false, firstBreak: broken };
      }
    }
    const untilSeq = head?.seq ?? 0;
    let checkedRows = 0;
    while (state.headSeq < untilSeq) {
      const afterSeq = state.headSeq;
      const batchStarted = performance.now();
      const batch =
        resume && afterSeq === resume.seq && resume.firstBatch.length > 0
          ? resume.firstBatch
          : await this.read(caller.scope, tenantId, (m) => repo.chainBatch(m, tenantId, afterSeq, untilSeq, VERIFY_BATCH));
      if (batch.length === 0) break;
      await this.evidence.loadKeys(batch.flatMap((row) => (row.seal ? [row.seal.keyId] : [])));
      let sliceStart = performance.now();
      for (let from = 0; from < batch.length; from += VERIFY_SLICE_ROWS) {
        if (performance.now() - sliceStart >= VERIFY_SLICE_MS) {
          await yieldToEventLoop();
          sliceStart = performance.now();
        }
        state = verifyChain(batch.slice(from, from + VERIFY_SLICE_ROWS), state, evidence);
      }
      checkedRows += batch.length;
      const pauseMs = pauseAfterBatch(checkedRows, performance.now() - batchStarted, this.verifyPace);
      if (pauseMs > 0 && state.headSeq < untilSeq) await new Promise((resume) => setTimeout(resume, pauseMs));
    }
    state = closeChain(state, untilSeq, external.point, evidence.keys, evidence.sealedAfter);
    const report: VerifyReport = {
      tenantId,
      ...state,
      fromSeq: point?.seq ?? 0,
      full,
      latestCheckpointSeq: external.point?.seq ?? null,
      externalCheckpoints: external.consulted ? 'consulted' : 'unavailable',
    };
    if (report.ok && report.headSeq > 0 && (full || report.headSeq > (point?.seq ?? 0))) {
      await this.reads.saveVerifiedPoint(tenantId, { seq: report.headSeq, hash: report.headHash, verifiedAt: started.toISOString() }, full);
    }
    if (!report.ok) await this.recordBrokenChain(tenantId, caller, report);
    return report;
  }

  /**
   * What the rows after `afterSeq` are held to: the database's checkpoints after it and the
   * stream's latest (which wins at its seq: the database's copy could have been replaced), the
   * seq from which every row must be sealed, and the keys that may have signed.
   */
  private async evidenceFor(
    tenantId: string,
    caller: ApiCaller,
    afterSeq: number,
    external: SignedPoint | null,
    sealingStarts: (number | null)[],
    /** The checkpoints after `afterSeq`, when the opening reads fetched them already. */
    readAhead?: SignedPoint[],
  ): Promise<Evidence> {
    const stored = readAhead ?? (await this.read(caller.scope, tenantId, (m) => points.checkpointsAfter(m, tenantId, afterSeq)));
    const checkpoints = new Map(stored.map((c) => [c.seq, c]));
    if (external && external.seq > afterSeq) checkpoints.set(external.seq, external);
    await this.evidence.loadKeys([...checkpoints.values(), ...(external ? [external] : [])].map((c) => c.keyId));
    const starts = [...sealingStarts, external?.seq ?? null].filter((n): n is number => n !== null);
    return { checkpoints, sealedAfter: starts.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...starts), keys: this.evidence.resolver() };
  }

  /**
   * A bundle of the tenant's rows recorded in [from, to) — rows, their seals, every checkpoint of
   * the tenant (the stream's latest included), the keys that signed them and a signed manifest —
   * for verify-bundle, offline. Read in batches on the read pool like a verification, and charged
   * like a full one. At most AUDITOR_EXPORT_MAX_ROWS rows.
   */
  async exportBundle(tenantId: string, query: ExportQuery, caller: ApiCaller): Promise<Map<string, string>> {
    const from = query.from === undefined ? null : new Date(query.from);
    const to = query.to === undefined ? null : new Date(query.to);
    if (from && to && from >= to) throw new AuditLogError(AuditLogErrorCode.InvalidTimeRange, 'from must be before to', 'from');
    this.takeBudget(tenantId, caller, 'export');
    const external = await this.evidence.externalCheckpoint(tenantId);
    const { head, range, stored, recordedKeys } = await this.read(caller.scope, tenantId, async (m) => ({
      head: await repo.head(m, tenantId),
      range: await repo.seqRange(m, tenantId, from, to),
      stored: await points.checkpointsAfter(m, tenantId, 0),
      recordedKeys: await points.keys(m),
    }));
    const count = range.toSeq - range.fromSeq + 1;
    if (count > this.maxExportRows) {
      throw new AuditLogError(AuditLogErrorCode.ExportTooLarge, `the range holds ${count} rows, more than AUDITOR_EXPORT_MAX_ROWS (${this.maxExportRows}): narrow from and to`, 'to');
    }
    const rows: EvidenceRow[] = [];
    for (let afterSeq = range.fromSeq - 1; afterSeq < range.toSeq; ) {
      const after = afterSeq;
      const batch = await this.read(caller.scope, tenantId, (m) => repo.chainBatch(m, tenantId, after, range.toSeq, VERIFY_BATCH));
      if (batch.length === 0) break;
      rows.push(...batch);
      afterSeq = batch[batch.length - 1].seq;
      await yieldToEventLoop();
    }
    const checkpoints = new Map(stored.map((c) => [c.seq, c]));
    if (external.point) checkpoints.set(external.point.seq, external.point);
    const seals = rows.flatMap((row) => (row.seal ? [row.seal] : []));
    const used = new Map<string, string>();
    for (const p of [...seals, ...checkpoints.values()]) if (!used.has(p.keyId) || p.signedAt < used.get(p.keyId)!) used.set(p.keyId, p.signedAt);
    await this.evidence.loadKeys(used.keys());
    const bundle = buildBundle(
      {
        tenantId,
        exportedAt: this.clock.now().toISOString(),
        from: from?.toISOString() ?? null,
        to: to?.toISOString() ?? null,
        fromSeq: range.fromSeq,
        headSeq: head?.seq ?? 0,
        rows: rows.map(({ seal: _seal, ...row }) => row),
        seals,
        checkpoints: [...checkpoints.values()].sort((a, b) => a.seq - b.seq),
        keys: this.evidence.history(recordedKeys, used),
      },
      this.evidence.signingKey,
    );
    this.reads.note({ tenantId, actor: caller.actor, outcome: 'success', kind: 'export', source: caller.source, returnedItems: rows.length, query: queryAsJson(query) });
    return bundle;
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

function queryAsJson(query: object): { [key: string]: JsonValue } {
  const json: { [key: string]: JsonValue } = {};
  for (const [key, value] of Object.entries(query)) if (value !== undefined) json[key] = value as JsonValue;
  return json;
}
