import { Inject, Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError } from 'typeorm';
import { newEventId, type Envelope } from '@autoheal/contracts';
import type { ProvenanceRejection } from '@autoheal/messaging';
import { claimInboxBatch, type InboxClaim } from '@autoheal/persistence';
import { auditorMetrics } from '../auditor.metrics.js';
import { AUDIT_REDACTION } from '../auditor.tokens.js';
import { ROW_SEALER, type RowSealer } from '../evidence/row-sealer.js';
import { CLOCK, type Clock } from '../clock.js';
import { AUDITOR_SCHEMA } from '../data-source.js';
import { auditEntryForEvent, auditEntryForRejection, type AuditEntry } from './audit-entry.js';
import { AuditLogError, AuditLogErrorCode } from './audit-log.errors.js';
import { auditLogRepository as repo } from './audit-log.repository.js';
import { activeTraceId } from './active-trace.js';
import { AppendBatcher } from './append-batcher.js';

export type RecordOutcome = 'appended' | 'duplicate';

/**
 * One append waiting for its batch: the entry, the inbox claim that makes it once-only, its trace.
 * A consumed event needs no claim: the append function skips an event id the log holds already
 * (in the same transaction as the insert). A rejection's entry has an id of its own, so the
 * claim on the rejected event's id is what keeps it once-only.
 */
interface AppendRequest {
  entry: AuditEntry;
  claim: InboxClaim | null;
  traceId: string | null;
}

type AppendResult = { ok: true; outcome: RecordOutcome } | { ok: false; error: unknown };

/** Postgres "data exception" class: the content itself is unacceptable (e.g. \u0000 in jsonb). */
function isDataException(error: unknown): boolean {
  return error instanceof QueryFailedError && typeof (error.driverError as { code?: unknown }).code === 'string' && (error.driverError as { code: string }).code.startsWith('22');
}

/** The error a caller sees: content the database refuses is ours to name (unstorable_event); anything else as it came. */
function recordError(error: unknown): unknown {
  return isDataException(error) ? new AuditLogError(AuditLogErrorCode.UnstorableEvent, (error as Error).message) : error;
}

/**
 * Recording the audit trail: one hash chain per tenant, each event once. The service logs
 * in as its own role, which may append rows only through `auditor.append_audit_entries`: the
 * database places each row in its tenant's chain (advisory lock, seq, prev_hash, hash). Reading
 * the trail is AuditReadService's.
 *
 * Appends are batched (group commit, AppendBatcher): the events handed over while a transaction
 * is writing are written by the next one together — appends, seals, one commit —
 * and each caller learns its own outcome only after that commit, so a consumer acks only what is
 * committed. A tenant's events are written in the order they were handed over. A batch that
 * fails is written again one event per transaction, in order, so one event the database refuses
 * (poison) fails alone and the others are recorded.
 */
@Injectable()
export class AuditLogService {
  private readonly batcher = new AppendBatcher<AppendRequest, AppendResult>(
    (requests) => this.writeBatch(requests),
    (request) => request.entry.tenantId,
  );

  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDIT_REDACTION) private readonly redacted: ReadonlySet<string>,
    @Inject(ROW_SEALER) private readonly sealer: RowSealer,
  ) {}

  /**
   * Appends the row for a consumed event, unless the log holds the event already (delivered
   * again, or by another consumer). Queued before the first await: the order of calls is the
   * order of the tenant's rows.
   */
  async recordEvent(event: Envelope, delivery: { subject: string }): Promise<RecordOutcome> {
    const entry = auditEntryForEvent(event, delivery.subject, this.redacted);
    return this.appendQueued({ entry, claim: null, traceId: activeTraceId() });
  }

  /**
   * Appends the auditor's own record of a control event it refused (bad or missing signature,
   * untrusted key, wrong producer), once per consumer and claimed event id.
   */
  async recordRejection(rejection: ProvenanceRejection, actor: string): Promise<RecordOutcome> {
    const at = this.clock.now();
    const entry = auditEntryForRejection(rejection.tenantId, newEventId(at.getTime()), at, rejection.data, actor);
    const claimed = rejection.data.eventId;
    const claim = claimed === null ? null : { consumer: `${rejection.data.rejectedBy}:rejected`, eventId: claimed };
    return this.appendQueued({ entry, claim, traceId: activeTraceId() });
  }

  private async appendQueued(request: AppendRequest): Promise<RecordOutcome> {
    const result = await this.batcher.submit(request);
    if (!result.ok) throw result.error;
    return result.outcome;
  }

  /** One transaction for the batch; if it fails, each request again on its own (in order), so one bad request fails alone. */
  private async writeBatch(requests: AppendRequest[]): Promise<AppendResult[]> {
    try {
      return (await this.writeTogether(requests)).map((outcome) => ({ ok: true, outcome }));
    } catch (error) {
      if (requests.length === 1) return [{ ok: false, error: recordError(error) }];
      // Poison is rare and an outage fails each request fast: the price of finding the one at fault.
      auditorMetrics.appendBatchesSplit.inc();
      const results: AppendResult[] = [];
      for (const request of requests) results.push(...(await this.writeBatch([request])));
      return results;
    }
  }

  /** Inbox claims, appends and seals of the batch in one transaction: all committed, or none. */
  private async writeTogether(requests: AppendRequest[]): Promise<RecordOutcome[]> {
    const stop = auditorMetrics.appendDuration.startTimer({ kind: 'event' });
    const appended = await this.db.transaction(async (m) => {
      const claims = requests.flatMap((r) => (r.claim === null ? [] : [r.claim]));
      const won = await claimInboxBatch(m, AUDITOR_SCHEMA, claims);
      let next = 0;
      // One whose claim was taken before is a duplicate; the append skips an event already recorded.
      const first = requests.map((r) => (r.claim === null ? true : won[next++]));
      const toAppend = requests.filter((_, i) => first[i]);
      const rows = await repo.appendBatch(m, toAppend, this.sealer);
      let k = 0;
      return first.map((claimedFirst) => claimedFirst && rows[k++]);
    });
    stop();
    auditorMetrics.appendBatchRows.observe(requests.length);
    return appended.map((ok, i) => {
      if (ok) auditorMetrics.rowsAppended.inc({ event_type: requests[i].entry.eventType });
      else auditorMetrics.duplicatesSkipped.inc();
      return ok ? 'appended' : 'duplicate';
    });
  }
}
