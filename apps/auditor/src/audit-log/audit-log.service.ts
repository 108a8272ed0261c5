import { Inject, Injectable } from '@nestjs/common';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { DataSource, QueryFailedError, type EntityManager } from 'typeorm';
import { newEventId, type Envelope } from '@autoheal/contracts';
import type { ProvenanceRejection } from '@autoheal/messaging';
import { claimInbox } from '@autoheal/persistence';
import { auditorMetrics } from '../auditor.metrics.js';
import { AUDIT_REDACTION } from '../auditor.tokens.js';
import { CLOCK, type Clock } from '../clock.js';
import { AUDITOR_SCHEMA } from '../data-source.js';
import { decodeCursor, encodeCursor } from './audit-cursor.js';
import {
  AUDIT_READ,
  AUDIT_VERIFY,
  auditEntryForEvent,
  auditEntryForRead,
  auditEntryForRejection,
  auditEntryForVerify,
  type ApiAccess,
  type AuditEntry,
} from './audit-entry.js';
import { AuditLogError, AuditLogErrorCode } from './audit-log.errors.js';
import { auditLogRepository as repo } from './audit-log.repository.js';
import { START_OF_CHAIN, verifyChain, type ChainBreak, type ChainedRow, type JsonValue } from './hash-chain.js';

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
  checkedRows: number;
  headSeq: number;
  headHash: string;
  firstBreak: ChainBreak | null;
}

export type RecordOutcome = 'appended' | 'duplicate';

/** Who is calling the REST API: the API key's id, and where the request came from. */
export interface ApiCaller {
  actor: string;
  source: string;
}

const VERIFY_BATCH = 1_000;

/** Postgres "data exception" class: the content itself is unacceptable (e.g. \u0000 in jsonb). */
function isDataException(error: unknown): boolean {
  return error instanceof QueryFailedError && typeof (error.driverError as { code?: unknown }).code === 'string' && (error.driverError as { code: string }).code.startsWith('22');
}

function activeTraceId(): string | null {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && isSpanContextValid(ctx) ? ctx.traceId : null;
}

/**
 * The audit trail: one hash chain per tenant, each event once (inbox), reads of the trail
 * recorded in the trail. The service logs in as its own role, which may read audit rows and
 * append them only through `auditor.append_audit_entry`: the database places each row in its
 * tenant's chain (advisory lock, seq, prev_hash, hash). `verify` recomputes the chain here.
 */
@Injectable()
export class AuditLogService {
  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDIT_REDACTION) private readonly redacted: ReadonlySet<string>,
  ) {}

  /** Appends the row for a consumed event, unless this consumer has recorded the event before. */
  async recordEvent(event: Envelope, delivery: { consumer: string; subject: string }): Promise<RecordOutcome> {
    const entry = auditEntryForEvent(event, delivery.subject, this.redacted);
    const stop = auditorMetrics.appendDuration.startTimer({ kind: 'event' });
    try {
      const appended = await this.db.transaction(async (m) => {
        if (!(await claimInbox(m, AUDITOR_SCHEMA, delivery.consumer, event.id))) return false;
        return this.append(m, entry);
      });
      stop();
      if (appended) auditorMetrics.rowsAppended.inc({ event_type: entry.eventType });
      else auditorMetrics.duplicatesSkipped.inc();
      return appended ? 'appended' : 'duplicate';
    } catch (error) {
      if (isDataException(error)) throw new AuditLogError(AuditLogErrorCode.UnstorableEvent, (error as Error).message);
      throw error;
    }
  }

  /**
   * Appends the auditor's own record of a control event it refused (bad or missing signature,
   * untrusted key, wrong producer), once per consumer and claimed event id.
   */
  async recordRejection(rejection: ProvenanceRejection, actor: string): Promise<RecordOutcome> {
    const at = this.clock.now();
    const entry = auditEntryForRejection(rejection.tenantId, newEventId(at.getTime()), at, rejection.data, actor);
    const claimed = rejection.data.eventId;
    const appended = await this.db.transaction(async (m) => {
      if (claimed !== null && !(await claimInbox(m, AUDITOR_SCHEMA, `${rejection.data.rejectedBy}:rejected`, claimed))) return false;
      return this.append(m, entry);
    });
    if (appended) auditorMetrics.rowsAppended.inc({ event_type: entry.eventType });
    return appended ? 'appended' : 'duplicate';
  }

  /** One page of a tenant's trail; the read itself is appended to that trail in the same transaction. */
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
    const stop = auditorMetrics.appendDuration.startTimer({ kind: 'read' });
    const page = await this.db.transaction(async (m) => {
      const rows = await repo.list(m, tenantId, filter);
      const items = rows.slice(0, query.limit);
      const more = rows.length > query.limit;
      const recorded = auditEntryForRead(this.access(tenantId, caller), queryAsJson(query), items.length);
      await this.append(m, recorded);
      return { items, nextCursor: more ? encodeCursor(items[items.length - 1].seq) : null };
    });
    stop();
    auditorMetrics.rowsAppended.inc({ event_type: AUDIT_READ });
    return page;
  }

  /**
   * Recomputes the tenant's whole chain from one consistent snapshot, then records that it
   * was verified (and the verdict) at the end of the chain.
   */
  async verify(tenantId: string, caller: ApiCaller): Promise<VerifyReport> {
    const result = await this.db.transaction('REPEATABLE READ', async (m) => {
      let state = START_OF_CHAIN;
      for (;;) {
        const batch = await repo.chainBatch(m, tenantId, state.headSeq, VERIFY_BATCH);
        state = verifyChain(batch, state);
        if (batch.length < VERIFY_BATCH) return state;
      }
    });
    const report: VerifyReport = { tenantId, ...result };
    await this.db.transaction(async (m) => {
      const entry = auditEntryForVerify(this.access(tenantId, caller), {
        ok: report.ok,
        checkedRows: report.checkedRows,
        headSeq: report.headSeq,
        firstBreakSeq: report.firstBreak?.seq ?? null,
      });
      await this.append(m, entry);
    });
    auditorMetrics.rowsAppended.inc({ event_type: AUDIT_VERIFY });
    return report;
  }

  private access(tenantId: string, caller: ApiCaller): ApiAccess {
    const at = this.clock.now();
    return { ...caller, tenantId, at, eventId: newEventId(at.getTime()) };
  }

  /** Places an entry at the end of its tenant's chain (the database computes its place and hash), inside the caller's transaction. */
  private append(m: EntityManager, entry: AuditEntry): Promise<boolean> {
    return repo.append(m, entry, activeTraceId());
  }
}

function queryAsJson(query: AuditQuery): { [key: string]: JsonValue } {
  const json: { [key: string]: JsonValue } = {};
  for (const [key, value] of Object.entries(query)) if (value !== undefined) json[key] = value as JsonValue;
  return json;
}
