import { Inject, Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError, type EntityManager } from 'typeorm';
import { newEventId, type Envelope } from '@autoheal/contracts';
import type { ProvenanceRejection } from '@autoheal/messaging';
import { claimInbox } from '@autoheal/persistence';
import { auditorMetrics } from '../auditor.metrics.js';
import { AUDIT_REDACTION } from '../auditor.tokens.js';
import { ROW_SEALER, type RowSealer } from '../evidence/row-sealer.js';
import { CLOCK, type Clock } from '../clock.js';
import { AUDITOR_SCHEMA } from '../data-source.js';
import { auditEntryForEvent, auditEntryForRejection, type AuditEntry } from './audit-entry.js';
import { AuditLogError, AuditLogErrorCode } from './audit-log.errors.js';
import { auditLogRepository as repo } from './audit-log.repository.js';
import { activeTraceId } from './active-trace.js';

export type RecordOutcome = 'appended' | 'duplicate';

/** Postgres "data exception" class: the content itself is unacceptable (e.g. \u0000 in jsonb). */
function isDataException(error: unknown): boolean {
  return error instanceof QueryFailedError && typeof (error.driverError as { code?: unknown }).code === 'string' && (error.driverError as { code: string }).code.startsWith('22');
}

/**
 * Recording the audit trail: one hash chain per tenant, each event once (inbox). The service logs
 * in as its own role, which may append rows only through `auditor.append_audit_entry`: the
 * database places each row in its tenant's chain (advisory lock, seq, prev_hash, hash). Reading
 * the trail is AuditReadService's.
 */
@Injectable()
export class AuditLogService {
  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDIT_REDACTION) private readonly redacted: ReadonlySet<string>,
    @Inject(ROW_SEALER) private readonly sealer: RowSealer,
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

  /** Places an entry at the end of its tenant's chain (the database computes its place and hash), inside the caller's transaction. */
  private append(m: EntityManager, entry: AuditEntry): Promise<boolean> {
    return repo.append(m, entry, activeTraceId(), this.sealer);
  }
}
