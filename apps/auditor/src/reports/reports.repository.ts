import type { EntityManager } from 'typeorm';
import type { ThresholdsInForce } from './compliance-report.js';
import { ACTION_OUTCOMES, type CountFact, type IncidentFact, type ItemFact } from './report-figures.js';
import { EVIDENCE_SEQ_LIMIT, TENANT_WIDE } from './compliance-report.js';

/**
 * The only SQL of the reports: aggregates over `auditor.audit_log` that gather what
 * report-figures.ts turns into figures — one row per incident, counts per group, one row per
 * listed event — so that a tenant of a million rows sends tens of thousands to the service, not a
 * million. Every query runs in the caller's read transaction (row-level security), names the
 * tenant, and stops at `throughSeq` (the head when the report began), so a report is of one
 * consistent prefix of the chain. Numbers leave the database as jsonb, parsed as JSON, exactly as
 * an export carries them.
 */

/** Remediation rows counted as actions. */
const ACTION_TYPES = Object.keys(ACTION_OUTCOMES);

/** Widens a period by a second each way where timestamps inside payloads are compared in SQL: report-figures.ts decides exactly. */
const SLACK = `interval '1 second'`;

export interface ReportPeriod {
  tenantId: string;
  throughSeq: number;
  from: Date;
  to: Date;
}

export const reportsRepository = {
  async head(m: EntityManager, tenantId: string): Promise<number> {
    const rows: { seq: string }[] = await m.query(`SELECT seq FROM auditor.audit_log WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1`, [tenantId]);
    return rows.length === 0 ? 0 : Number(rows[0].seq);
  },

  /**
   * Every incident that may count in the period: down at some time in it, or opened in it; with
   * its first resolution and first verification (recorded up to throughSeq, whenever).
   */
  async incidents(m: EntityManager, p: ReportPeriod): Promise<IncidentFact[]> {
    const rows: {
      service: string;
      opened_seq: string;
      opened_at: Date;
      signal_at: string;
      detection_ms: number;
      resolved_seq: string | null;
      resolved_at: string | null;
      verified_seq: string | null;
      ttr_ms: number | null;
    }[] = await m.query(
      `WITH o AS (
         SELECT DISTINCT ON (correlation_id) correlation_id AS id, seq, occurred_at, payload->'data'->>'service' AS service,
                payload->'data'->>'signalAt' AS signal_at, payload->'data'->'detectionLatencyMs' AS detection_ms
           FROM auditor.audit_log
          WHERE tenant_id = $1 AND seq <= $2 AND event_type = 'incident.opened' AND correlation_id IS NOT NULL
          ORDER BY correlation_id, seq),
       r AS (
         SELECT DISTINCT ON (correlation_id) correlation_id AS id, seq, payload->'data'->>'resolvedAt' AS resolved_at
           FROM auditor.audit_log
          WHERE tenant_id = $1 AND seq <= $2 AND event_type = 'incident.resolved' AND correlation_id IS NOT NULL
          ORDER BY correlation_id, seq),
       v AS (
         SELECT DISTINCT ON (correlation_id) correlation_id AS id, seq, payload->'data'->'timeToRemediateMs' AS ttr_ms
           FROM auditor.audit_log
          WHERE tenant_id = $1 AND seq <= $2 AND event_type = 'remediation.verified' AND correlation_id IS NOT NULL
          ORDER BY correlation_id, seq)
       SELECT o.service, o.seq AS opened_seq, o.occurred_at AS opened_at, o.signal_at, o.detection_ms,
              r.seq AS resolved_seq, r.resolved_at, v.seq AS verified_seq, v.ttr_ms
         FROM o LEFT JOIN r USING (id) LEFT JOIN v USING (id)
        WHERE (o.occurred_at >= $3 AND o.occurred_at < $4)
           OR (o.signal_at::timestamptz < $4 + ${SLACK} AND (r.resolved_at IS NULL OR r.resolved_at::timestamptz > $3 - ${SLACK}))`,
      [p.tenantId, p.throughSeq, p.from, p.to],
    );
    return rows.map((r) => ({
      service: r.service,
      openedSeq: Number(r.opened_seq),
      openedAt: r.opened_at.toISOString(),
      signalAt: r.signal_at,
      detectionMs: r.detection_ms,
      resolvedSeq: r.resolved_seq === null ? null : Number(r.resolved_seq),
      resolvedAt: r.resolved_at,
      verifiedSeq: r.verified_seq === null ? null : Number(r.verified_seq),
      ttrMs: r.ttr_ms,
    }));
  },

  /**
   * Actions (remediation outcomes, by service, action, automatic or approved, outcome) and
   * refusals (compliance.action_refused, by service and rule) that happened in the period.
   * `approved`: the remediation has a remediation.approved row (a person let it run).
   */
  async counts(m: EntityManager, p: ReportPeriod): Promise<CountFact[]> {
    const rows: { name: 'actions' | 'refusals'; service: string; key: string; event_type: string; n: number; first_seq: string; last_seq: string; seqs: string[] }[] = await m.query(
      `WITH approved AS (
         SELECT DISTINCT resource->>'remediationId' AS rid FROM auditor.audit_log
          WHERE tenant_id = $1 AND seq <= $2 AND event_type = 'remediation.approved'),
       counted AS (
         SELECT a.seq, a.event_type,
                CASE WHEN a.event_type = 'compliance.action_refused' THEN 'refusals' ELSE 'actions' END AS name,
                a.payload->'data'->>'service' AS service,
                CASE WHEN a.event_type = 'compliance.action_refused' THEN a.payload->'data'->>'rule'
                     ELSE (a.payload->'data'->>'action') || '/' || CASE WHEN ap.rid IS NULL THEN 'automatic' ELSE 'approved' END END AS key
           FROM auditor.audit_log a LEFT JOIN approved ap ON ap.rid = a.resource->>'remediationId'
          WHERE a.tenant_id = $1 AND a.seq <= $2 AND a.occurred_at >= $3 AND a.occurred_at < $4
            AND a.event_type = ANY($5))
       SELECT name, service, key, event_type, count(*)::int AS n, min(seq) AS first_seq, max(seq) AS last_seq,
              (array_agg(seq ORDER BY seq))[1:${EVIDENCE_SEQ_LIMIT + 1}] AS seqs
         FROM counted GROUP BY name, service, key, event_type`,
      [p.tenantId, p.throughSeq, p.from, p.to, [...ACTION_TYPES, 'compliance.action_refused']],
    );
    return rows.map((r) => ({
      name: r.name,
      service: r.service,
      key: r.name === 'actions' ? `${r.key}/${ACTION_OUTCOMES[r.event_type]}` : r.key,
      eventType: r.event_type,
      rows: r.n,
      firstSeq: Number(r.first_seq),
      lastSeq: Number(r.last_seq),
      seqs: r.n <= EVIDENCE_SEQ_LIMIT ? r.seqs.map(Number) : null,
    }));
  },

  /** Breaches, approvals and rejections, and policy changes that happened in the period, one each. */
  async items(m: EntityManager, p: ReportPeriod): Promise<ItemFact[]> {
    const rows: { seq: string; event_type: string; occurred_at: Date; d: Record<string, unknown> }[] = await m.query(
      `SELECT seq, event_type, occurred_at, payload->'data' AS d FROM auditor.audit_log
        WHERE tenant_id = $1 AND seq <= $2 AND occurred_at >= $3 AND occurred_at < $4
          AND event_type IN ('compliance.breach', 'remediation.approved', 'remediation.rejected', 'compliance.policy_changed')
        ORDER BY seq`,
      [p.tenantId, p.throughSeq, p.from, p.to],
    );
    return rows.map((r) => itemOf(Number(r.seq), r.event_type, r.occurred_at.toISOString(), r.d));
  },

  /** The measured thresholds of the latest policy change before the period's end that carried them. */
  async thresholds(m: EntityManager, p: ReportPeriod): Promise<ThresholdsInForce | null> {
    const rows: { seq: string; version: string; thresholds: { availabilityTarget: number; maxTimeToRemediateMs: number } }[] = await m.query(
      `SELECT seq, payload->'data'->>'policyVersion' AS version, payload->'data'->'thresholds' AS thresholds FROM auditor.audit_log
        WHERE tenant_id = $1 AND seq <= $2 AND event_type = 'compliance.policy_changed' AND occurred_at < $3
          AND jsonb_typeof(payload->'data'->'thresholds') = 'object'
        ORDER BY seq DESC LIMIT 1`,
      [p.tenantId, p.throughSeq, p.to],
    );
    if (rows.length === 0) return null;
    const r = rows[0];
    return { policyVersion: r.version, availabilityTarget: r.thresholds.availabilityTarget, maxTimeToRemediateMs: r.thresholds.maxTimeToRemediateMs, seq: Number(r.seq) };
  },
};

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** A listed row's figure: what the event says, by kind. */
function itemOf(seq: number, eventType: string, at: string, d: Record<string, unknown>): ItemFact {
  switch (eventType) {
    case 'compliance.breach':
      return {
        name: 'breach',
        service: str(d.service) ?? TENANT_WIDE,
        key: str(d.rule) ?? '',
        eventType,
        seq,
        values: { rule: str(d.rule), observed: num(d.observed), threshold: num(d.threshold), incidentId: str(d.incidentId), reason: str(d.reason), at },
      };
    case 'remediation.approved':
    case 'remediation.rejected': {
      const approved = eventType === 'remediation.approved';
      return {
        name: 'approval',
        service: str(d.service) ?? TENANT_WIDE,
        key: str(d.action) ?? '',
        eventType,
        seq,
        values: {
          decision: approved ? 'approved' : 'rejected',
          by: str(approved ? d.approvedBy : d.rejectedBy),
          at,
          action: str(d.action),
          remediationId: str(d.remediationId),
          incidentId: str(d.incidentId),
        },
      };
    }
    default: {
      const changes = Array.isArray(d.changes) ? (d.changes as { path?: unknown }[]) : [];
      const thresholds = (d.thresholds ?? null) as Record<string, unknown> | null;
      return {
        name: 'policy_change',
        service: TENANT_WIDE,
        key: str(d.policyVersion) ?? '',
        eventType,
        seq,
        values: {
          version: str(d.policyVersion),
          previousVersion: str(d.previousVersion),
          by: str(d.changedBy),
          at,
          changed: changes.map((c) => String(c.path)).join(', '),
          availabilityTarget: num(thresholds?.availabilityTarget),
          maxTimeToRemediateMs: num(thresholds?.maxTimeToRemediateMs),
        },
      };
    }
  }
}
