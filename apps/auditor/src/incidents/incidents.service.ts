import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '../clock.js';
import { decodeCursor, encodeCursor } from '../audit-log/audit-cursor.js';
import { AuditLogError, AuditLogErrorCode } from '../audit-log/audit-log.errors.js';
import { AuditReadService, type ApiCaller } from '../audit-log/audit-read.service.js';
import { remediationStatusOf, stepTypeOf, timelineOf, type IncidentStatus, type RemediationStatus } from './incident-views.js';
import { IncidentsError, IncidentsErrorCode } from './incidents.errors.js';
import { incidentsRepository as repo, type ApprovalRecord, type IncidentRecord } from './incidents.repository.js';

/** Most rows one timeline returns (an incident that flapped for days can hold many updates). */
export const MAX_TIMELINE_ENTRIES = 5_000;

export interface PageQuery {
  limit: number;
  cursor?: string;
}

export interface IncidentQuery extends PageQuery {
  status?: IncidentStatus;
  kind?: string;
  service?: string;
  instance?: string;
  from?: string;
  to?: string;
}

export interface RemediationQuery extends PageQuery {
  action?: string;
  status?: RemediationStatus;
  service?: string;
  from?: string;
  to?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface IncidentView extends Omit<IncidentRecord, 'seq'> {
  status: IncidentStatus;
}

export interface RemediationView {
  remediationId: string;
  incidentId: string;
  service: string;
  instance: string;
  action: string | null;
  status: RemediationStatus;
  outcome: string;
  startedAt: string;
  updatedAt: string;
}

/**
 * Incidents, their timelines, remediations and pending approvals, as the tenant's audit trail
 * records them. Every read goes through the audit API's read path (AuditReadService.readView):
 * the same budget, read pool, row-level security and `audit.read` records as a page of the trail.
 */
@Injectable()
export class IncidentsService {
  constructor(
    private readonly audit: AuditReadService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async incidents(tenantId: string, q: IncidentQuery, caller: ApiCaller): Promise<Page<IncidentView>> {
    const beforeSeq = cursorOf(q);
    const range = rangeOf(q);
    const rows = await this.audit.readView(tenantId, caller, 'incidents', q, async (m) => {
      const found = await repo.incidents(m, tenantId, { beforeSeq, limit: q.limit + 1, status: q.status, kind: q.kind, service: q.service, instance: q.instance, ...range });
      return { result: found, returnedItems: Math.min(found.length, q.limit) };
    });
    return pageOf(rows, q.limit, ({ seq: _seq, ...r }) => ({ ...r, status: r.resolvedAt === null ? 'open' : 'resolved' }));
  }

  async timeline(tenantId: string, incidentId: string, caller: ApiCaller) {
    const { rows, opened } = await this.audit.readView(tenantId, caller, 'timeline', { incidentId }, async (m) => {
      const found = await repo.incidentRows(m, tenantId, incidentId, MAX_TIMELINE_ENTRIES + 1);
      return { result: found, returnedItems: Math.min(found.rows.length, MAX_TIMELINE_ENTRIES) };
    });
    if (rows.length === 0) throw new IncidentsError(IncidentsErrorCode.IncidentNotFound, `no incident ${incidentId} in this tenant's trail`, 'incidentId');
    const timeline = timelineOf(rows.slice(0, MAX_TIMELINE_ENTRIES), opened?.signalAt ?? null);
    const ms = (from: string | null, to: string | null) => (from === null || to === null ? null : Date.parse(to) - Date.parse(from));
    return {
      tenantId,
      incidentId,
      service: opened?.service ?? null,
      instance: opened?.instance ?? null,
      kind: opened?.kind ?? null,
      status: (timeline.resolvedAt === null ? 'open' : 'resolved') satisfies IncidentStatus,
      signalAt: timeline.signalAt,
      detectionMs: ms(timeline.signalAt, timeline.openedAt),
      openedAt: timeline.openedAt,
      resolvedAt: timeline.resolvedAt,
      verifiedAt: timeline.verifiedAt,
      openedToVerifiedMs: ms(timeline.openedAt, timeline.verifiedAt),
      entries: timeline.entries,
      truncated: rows.length > MAX_TIMELINE_ENTRIES,
    };
  }

  async remediations(tenantId: string, q: RemediationQuery, caller: ApiCaller): Promise<Page<RemediationView>> {
    const beforeSeq = cursorOf(q);
    const range = rangeOf(q);
    const latestType = q.status === undefined ? undefined : stepTypeOf(q.status);
    const rows = await this.audit.readView(tenantId, caller, 'remediations', q, async (m) => {
      const found = await repo.remediations(m, tenantId, { beforeSeq, limit: q.limit + 1, action: q.action, latestType, service: q.service, ...range });
      return { result: found, returnedItems: Math.min(found.length, q.limit) };
    });
    return pageOf(rows, q.limit, (r) => ({
      remediationId: r.remediationId,
      incidentId: r.incidentId,
      service: r.service,
      instance: r.instance,
      action: r.action,
      // The SQL only returns rows whose latest type is a step type.
      status: remediationStatusOf(r.latestType) ?? 'planned',
      outcome: r.latestOutcome,
      startedAt: r.firstAt,
      updatedAt: r.latestAt,
    }));
  }

  async pendingApprovals(tenantId: string, q: PageQuery, caller: ApiCaller): Promise<Page<Omit<ApprovalRecord, 'seq'>>> {
    const beforeSeq = cursorOf(q);
    const now = this.clock.now();
    const rows = await this.audit.readView(tenantId, caller, 'approvals', q, async (m) => {
      const found = await repo.pendingApprovals(m, tenantId, { beforeSeq, limit: q.limit + 1, now });
      return { result: found, returnedItems: Math.min(found.length, q.limit) };
    });
    return pageOf(rows, q.limit, ({ seq: _seq, ...r }) => r);
  }
}

function cursorOf(q: PageQuery): number | null {
  return q.cursor === undefined ? null : decodeCursor(q.cursor);
}

function rangeOf(q: { from?: string; to?: string }): { from?: Date; to?: Date } {
  const from = q.from === undefined ? undefined : new Date(q.from);
  const to = q.to === undefined ? undefined : new Date(q.to);
  if (from && to && from >= to) throw new AuditLogError(AuditLogErrorCode.InvalidTimeRange, 'from must be before to', 'from');
  return { from, to };
}

/** Newest first: the next page holds the rows before the last one shown; rows appended meanwhile land before the first page, never in a later one. */
function pageOf<R extends { seq: number }, T>(rows: R[], limit: number, view: (row: R) => T): Page<T> {
  const shown = rows.slice(0, limit);
  return { items: shown.map(view), nextCursor: rows.length > limit ? encodeCursor(shown[shown.length - 1].seq) : null };
}
