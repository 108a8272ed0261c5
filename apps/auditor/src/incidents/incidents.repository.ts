import type { EntityManager } from 'typeorm';
import type { IncidentStatus, RemediationStepType, TimelineRow } from './incident-views.js';

/**
 * The only SQL of the incident views: reads of `auditor.audit_log`, whose payload is each event's
 * envelope. Every function runs in the caller's read transaction (row-level security set to the
 * caller's credential) and still names the tenant itself. The existing indexes carry them:
 * `(tenant_id, event_type, seq)` drives each list newest first, `(tenant_id, correlation_id, seq)`
 * (every incident and remediation event carries its incident id as correlation id) finds an
 * incident's other rows.
 */

export interface IncidentFilter {
  /** Only rows before this seq (the cursor); null: from the newest. */
  beforeSeq: number | null;
  limit: number;
  status?: IncidentStatus;
  kind?: string;
  service?: string;
  instance?: string;
  from?: Date;
  to?: Date;
}

export interface IncidentRecord {
  seq: number;
  incidentId: string;
  service: string;
  instance: string;
  kind: string;
  severity: string;
  signalAt: string | null;
  openedAt: string;
  resolvedAt: string | null;
  resolveReason: string | null;
}

export interface RemediationFilter {
  beforeSeq: number | null;
  limit: number;
  action?: string;
  /** The latest event type the remediation must have (its status). */
  latestType?: RemediationStepType;
  service?: string;
  from?: Date;
  to?: Date;
}

export interface RemediationRecord {
  seq: number;
  remediationId: string;
  incidentId: string;
  service: string;
  instance: string;
  action: string | null;
  firstAt: string;
  latestType: string;
  latestAt: string;
  latestOutcome: string;
}

export interface ApprovalRecord {
  seq: number;
  remediationId: string;
  incidentId: string;
  service: string;
  instance: string;
  action: string;
  requestedAt: string;
  expiresAt: string;
  reason: string;
  policyVersion: string;
}

/** What an incident.opened event said about the incident. */
export interface OpenedFacts {
  service: string;
  instance: string;
  kind: string;
  severity: string;
  signalAt: string | null;
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

/** The step types as an SQL array parameter. */
const STEP_TYPES_SQL = `ARRAY['remediation.planned','remediation.awaiting_approval','remediation.approved','remediation.rejected','remediation.deferred',
  'remediation.started','remediation.succeeded','remediation.failed','remediation.rolled_back','remediation.verified','remediation.verification_failed','remediation.escalated']`;

export const incidentsRepository = {
  /** Incidents (their incident.opened rows) newest first, each with its resolution if one was recorded. */
  async incidents(m: EntityManager, tenantId: string, f: IncidentFilter): Promise<IncidentRecord[]> {
    const rows: {
      seq: string;
      correlation_id: string;
      service: string;
      instance: string;
      kind: string;
      severity: string;
      signal_at: string | null;
      occurred_at: Date;
      resolved_at: Date | null;
      resolve_reason: string | null;
    }[] = await m.query(
      `SELECT o.seq, o.correlation_id, o.payload->'data'->>'service' AS service, o.payload->'data'->>'instance' AS instance,
              o.payload->'data'->>'kind' AS kind, o.payload->'data'->>'severity' AS severity, o.payload->'data'->>'signalAt' AS signal_at,
              o.occurred_at, r.occurred_at AS resolved_at, r.reason AS resolve_reason
         FROM auditor.audit_log o
         LEFT JOIN LATERAL (
           SELECT x.occurred_at, x.payload->'data'->>'reason' AS reason FROM auditor.audit_log x
            WHERE x.tenant_id = o.tenant_id AND x.correlation_id = o.correlation_id AND x.event_type = 'incident.resolved'
            ORDER BY x.seq LIMIT 1) r ON true
        WHERE o.tenant_id = $1 AND o.event_type = 'incident.opened' AND o.correlation_id IS NOT NULL
          AND ($2::bigint IS NULL OR o.seq < $2)
          AND ($3::text IS NULL OR ($3 = 'open') = (r.occurred_at IS NULL))
          AND ($4::text IS NULL OR o.payload->'data'->>'kind' = $4)
          AND ($5::text IS NULL OR o.payload->'data'->>'service' = $5)
          AND ($6::text IS NULL OR o.payload->'data'->>'instance' = $6)
          AND ($7::timestamptz IS NULL OR o.occurred_at >= $7)
          AND ($8::timestamptz IS NULL OR o.occurred_at < $8)
        ORDER BY o.seq DESC
        LIMIT $9`,
      [tenantId, f.beforeSeq, f.status ?? null, f.kind ?? null, f.service ?? null, f.instance ?? null, f.from ?? null, f.to ?? null, f.limit],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      incidentId: r.correlation_id,
      service: r.service,
      instance: r.instance,
      kind: r.kind,
      severity: r.severity,
      signalAt: r.signal_at,
      openedAt: r.occurred_at.toISOString(),
      resolvedAt: iso(r.resolved_at),
      resolveReason: r.resolve_reason,
    }));
  },

  /** Every row recorded for the incident (its correlation id), in the order recorded, at most `limit`; and what its opening said. */
  async incidentRows(m: EntityManager, tenantId: string, incidentId: string, limit: number): Promise<{ rows: TimelineRow[]; opened: OpenedFacts | null }> {
    const rows: {
      seq: string;
      event_id: string;
      event_type: string;
      occurred_at: Date;
      recorded_at: Date;
      actor: string;
      action: string;
      outcome: string;
      remediation_id: string | null;
      opened: OpenedFacts | null;
    }[] = await m.query(
      `SELECT seq, event_id, event_type, occurred_at, recorded_at, actor, action, outcome, resource->>'remediationId' AS remediation_id,
              CASE WHEN event_type = 'incident.opened'
                THEN jsonb_build_object('service', payload->'data'->'service', 'instance', payload->'data'->'instance', 'kind', payload->'data'->'kind',
                                        'severity', payload->'data'->'severity', 'signalAt', payload->'data'->'signalAt') END AS opened
         FROM auditor.audit_log
        WHERE tenant_id = $1 AND correlation_id = $2
        ORDER BY seq
        LIMIT $3`,
      [tenantId, incidentId, limit],
    );
    return {
      opened: rows.find((r) => r.opened !== null)?.opened ?? null,
      rows: rows.map((r) => ({
        seq: Number(r.seq),
        eventId: r.event_id,
        eventType: r.event_type,
        occurredAt: r.occurred_at.toISOString(),
        recordedAt: r.recorded_at.toISOString(),
        actor: r.actor,
        action: r.action,
        outcome: r.outcome,
        remediationId: r.remediation_id,
      })),
    };
  },

  /**
   * Remediations newest first: each is the first row recorded for its remediation id (driving the
   * order and the cursor) with its latest row (its status).
   */
  async remediations(m: EntityManager, tenantId: string, f: RemediationFilter): Promise<RemediationRecord[]> {
    const rows: {
      seq: string;
      remediation_id: string;
      correlation_id: string;
      service: string;
      instance: string;
      action: string | null;
      occurred_at: Date;
      latest_type: string;
      latest_at: Date;
      latest_outcome: string;
    }[] = await m.query(
      `SELECT f.seq, f.resource->>'remediationId' AS remediation_id, f.correlation_id, f.payload->'data'->>'service' AS service,
              f.payload->'data'->>'instance' AS instance, COALESCE(f.payload->'data'->>'action', l.action) AS action, f.occurred_at,
              l.event_type AS latest_type, l.occurred_at AS latest_at, l.outcome AS latest_outcome
         FROM auditor.audit_log f
         CROSS JOIN LATERAL (
           SELECT x.event_type, x.occurred_at, x.outcome, x.payload->'data'->>'action' AS action FROM auditor.audit_log x
            WHERE x.tenant_id = f.tenant_id AND x.correlation_id = f.correlation_id AND x.event_type = ANY(${STEP_TYPES_SQL})
              AND x.resource->>'remediationId' = f.resource->>'remediationId'
            ORDER BY x.seq DESC LIMIT 1) l
        WHERE f.tenant_id = $1 AND f.event_type = ANY(${STEP_TYPES_SQL}) AND f.correlation_id IS NOT NULL AND f.resource ? 'remediationId'
          AND NOT EXISTS (
            SELECT 1 FROM auditor.audit_log e
             WHERE e.tenant_id = f.tenant_id AND e.correlation_id = f.correlation_id AND e.seq < f.seq AND e.event_type = ANY(${STEP_TYPES_SQL})
               AND e.resource->>'remediationId' = f.resource->>'remediationId')
          AND ($2::bigint IS NULL OR f.seq < $2)
          AND ($3::text IS NULL OR COALESCE(f.payload->'data'->>'action', l.action) = $3)
          AND ($4::text IS NULL OR l.event_type = $4)
          AND ($5::text IS NULL OR f.payload->'data'->>'service' = $5)
          AND ($6::timestamptz IS NULL OR f.occurred_at >= $6)
          AND ($7::timestamptz IS NULL OR f.occurred_at < $7)
        ORDER BY f.seq DESC
        LIMIT $8`,
      [tenantId, f.beforeSeq, f.action ?? null, f.latestType ?? null, f.service ?? null, f.from ?? null, f.to ?? null, f.limit],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      remediationId: r.remediation_id,
      incidentId: r.correlation_id,
      service: r.service,
      instance: r.instance,
      action: r.action,
      firstAt: r.occurred_at.toISOString(),
      latestType: r.latest_type,
      latestAt: r.latest_at.toISOString(),
      latestOutcome: r.latest_outcome,
    }));
  },

  /** Requests for approval, newest first, with no approval or rejection of the same remediation recorded after them and not expired at `now`. */
  async pendingApprovals(m: EntityManager, tenantId: string, f: { beforeSeq: number | null; limit: number; now: Date }): Promise<ApprovalRecord[]> {
    const rows: {
      seq: string;
      remediation_id: string;
      correlation_id: string;
      service: string;
      instance: string;
      action: string;
      occurred_at: Date;
      expires_at: string;
      reason: string;
      policy_version: string;
    }[] = await m.query(
      `SELECT a.seq, a.resource->>'remediationId' AS remediation_id, a.correlation_id, a.payload->'data'->>'service' AS service,
              a.payload->'data'->>'instance' AS instance, a.payload->'data'->>'action' AS action, a.occurred_at,
              a.payload->'data'->>'expiresAt' AS expires_at, a.payload->'data'->>'reason' AS reason, a.payload->'data'->>'policyVersion' AS policy_version
         FROM auditor.audit_log a
        WHERE a.tenant_id = $1 AND a.event_type = 'remediation.awaiting_approval' AND a.correlation_id IS NOT NULL
          AND NOT EXISTS (
            SELECT 1 FROM auditor.audit_log d
             WHERE d.tenant_id = a.tenant_id AND d.correlation_id = a.correlation_id AND d.seq > a.seq
               AND d.event_type IN ('remediation.approved', 'remediation.rejected')
               AND d.resource->>'remediationId' = a.resource->>'remediationId')
          AND (a.payload->'data'->>'expiresAt')::timestamptz > $2
          AND ($3::bigint IS NULL OR a.seq < $3)
        ORDER BY a.seq DESC
        LIMIT $4`,
      [tenantId, f.now, f.beforeSeq, f.limit],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      remediationId: r.remediation_id,
      incidentId: r.correlation_id,
      service: r.service,
      instance: r.instance,
      action: r.action,
      requestedAt: r.occurred_at.toISOString(),
      expiresAt: new Date(r.expires_at).toISOString(),
      reason: r.reason,
      policyVersion: r.policy_version,
    }));
  },
};
