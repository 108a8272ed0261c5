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

/** Every event type a report reads. */
const READ_TYPES = [
  'incident.opened',
  'incident.resolved',
  ...ACTION_TYPES,
  'compliance.action_refused',
  'compliance.breach',
  'remediation.approved',
  'remediation.rejected',
  'compliance.policy_changed',
];

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
   * Everything the figures need but the thresholds, in one pass over the tenant's rows: the rows
   * of the event types a report reads are scanned once into a working set of a few extracted
   * fields (a report over a long history is bound by reading the rows, and three or four scans of
   * a tenant's million rows cost three or four times one), then grouped three ways:
   * - `incident`: one per incident that may count in the period (down at some time in it, or
   *   opened in it), with its first resolution and first verification recorded up to throughSeq;
   * - `count`: actions (remediation outcomes by service, action, automatic or approved — the
   *   remediation has a remediation.approved row — and outcome) and refusals (by service and
   *   rule) that happened in the period;
   * - `item`: breaches, approvals and rejections, policy changes that happened in the period.
   */
  async facts(m: EntityManager, p: ReportPeriod): Promise<{ incidents: IncidentFact[]; counts: CountFact[]; items: ItemFact[] }> {
    // The working set and its sorts stay in memory (the default 4 MB spills them to disk at a few hundred thousand rows); for this transaction only.
    await m.query(`SET LOCAL work_mem = '64MB'`);
    const rows: { kind: 'incident' | 'count' | 'item'; v: Record<string, unknown> }[] = await m.query(
      `WITH r AS MATERIALIZED (
         SELECT seq, event_type, occurred_at, correlation_id, resource->>'remediationId' AS rid,
                payload->'data'->>'service' AS service,
                CASE event_type WHEN 'incident.opened' THEN payload->'data'->>'signalAt' WHEN 'incident.resolved' THEN payload->'data'->>'resolvedAt'
                                WHEN 'compliance.action_refused' THEN payload->'data'->>'rule' ELSE payload->'data'->>'action' END AS f,
                CASE event_type WHEN 'incident.opened' THEN payload->'data'->'detectionLatencyMs' WHEN 'remediation.verified' THEN payload->'data'->'timeToRemediateMs' END AS n,
                CASE WHEN event_type IN ('compliance.breach', 'remediation.approved', 'remediation.rejected', 'compliance.policy_changed') THEN payload->'data' END AS d
           FROM auditor.audit_log
          WHERE tenant_id = $1 AND seq <= $2 AND event_type = ANY($5)),
       -- Each incident's first opening, resolution and verification: the min of [seq zero-padded, fields…] picks the fields of the first row by seq in one hash aggregate, with no join back.
       inc AS (
         SELECT min(ARRAY[lpad(seq::text, 19, '0'), service, occurred_at::text, f, n::text]) FILTER (WHERE event_type = 'incident.opened') AS o,
                min(ARRAY[lpad(seq::text, 19, '0'), f]) FILTER (WHERE event_type = 'incident.resolved') AS rs,
                min(ARRAY[lpad(seq::text, 19, '0'), n::text]) FILTER (WHERE event_type = 'remediation.verified') AS v
           FROM r WHERE correlation_id IS NOT NULL AND event_type IN ('incident.opened', 'incident.resolved', 'remediation.verified')
          GROUP BY correlation_id),
       firsts AS (
         SELECT o[2] AS service, o[1]::bigint AS opened_seq, o[3]::timestamptz AS opened_at, o[4] AS signal_at, o[5]::jsonb AS detection_ms,
                rs[1]::bigint AS resolved_seq, rs[2] AS resolved_at, v[1]::bigint AS verified_seq, v[2]::jsonb AS ttr_ms
           FROM inc WHERE o IS NOT NULL),
       approved AS (SELECT DISTINCT rid FROM r WHERE event_type = 'remediation.approved'),
       counted AS (
         SELECT r.seq, r.event_type, r.service,
                CASE WHEN r.event_type = 'compliance.action_refused' THEN 'refusals' ELSE 'actions' END AS name,
                CASE WHEN r.event_type = 'compliance.action_refused' THEN r.f ELSE r.f || '/' || CASE WHEN ap.rid IS NULL THEN 'automatic' ELSE 'approved' END END AS key
           FROM r LEFT JOIN approved ap ON ap.rid = r.rid
          WHERE r.occurred_at >= $3 AND r.occurred_at < $4 AND r.event_type = ANY($6))
       SELECT 'incident' AS kind,
              jsonb_build_object('service', service, 'openedSeq', opened_seq, 'openedAt', opened_at, 'signalAt', signal_at, 'detectionMs', detection_ms,
                                 'resolvedSeq', resolved_seq, 'resolvedAt', resolved_at, 'verifiedSeq', verified_seq, 'ttrMs', ttr_ms) AS v
         FROM firsts
        WHERE (opened_at >= $3 AND opened_at < $4)
           OR (signal_at::timestamptz < $4 + ${SLACK} AND (resolved_at IS NULL OR resolved_at::timestamptz > $3 - ${SLACK}))
       UNION ALL
       SELECT 'count', jsonb_build_object('name', name, 'service', service, 'key', key, 'eventType', event_type, 'rows', count(*), 'firstSeq', min(seq), 'lastSeq', max(seq),
                                          'seqs', (array_agg(seq ORDER BY seq))[1:${EVIDENCE_SEQ_LIMIT + 1}])
         FROM counted GROUP BY name, service, key, event_type
       UNION ALL
       SELECT 'item', jsonb_build_object('seq', seq, 'eventType', event_type, 'at', occurred_at, 'd', d)
         FROM r WHERE d IS NOT NULL AND occurred_at >= $3 AND occurred_at < $4`,
      [p.tenantId, p.throughSeq, p.from, p.to, READ_TYPES, [...ACTION_TYPES, 'compliance.action_refused']],
    );
    const incidents: IncidentFact[] = [];
    const counts: CountFact[] = [];
    const items: ItemFact[] = [];
    for (const { kind, v } of rows) {
      if (kind === 'incident') {
        const r = v as { service: string; openedSeq: number; openedAt: string; signalAt: string; detectionMs: number; resolvedSeq: number | null; resolvedAt: string | null; verifiedSeq: number | null; ttrMs: number | null };
        incidents.push({ ...r, openedAt: new Date(r.openedAt).toISOString() });
      } else if (kind === 'count') {
        const r = v as { name: 'actions' | 'refusals'; service: string; key: string; eventType: string; rows: number; firstSeq: number; lastSeq: number; seqs: number[] };
        counts.push({
          name: r.name,
          service: r.service,
          key: r.name === 'actions' ? `${r.key}/${ACTION_OUTCOMES[r.eventType]}` : r.key,
          eventType: r.eventType,
          rows: r.rows,
          firstSeq: r.firstSeq,
          lastSeq: r.lastSeq,
          seqs: r.rows <= EVIDENCE_SEQ_LIMIT ? r.seqs : null,
        });
      } else {
        const r = v as { seq: number; eventType: string; at: string; d: Record<string, unknown> };
        items.push(itemOf(r.seq, r.eventType, new Date(r.at).toISOString(), r.d));
      }
    }
    // The union's order is not the figures' (they are sorted); listed rows keep the trail's.
    items.sort((a, b) => a.seq - b.seq);
    return { incidents, counts, items };
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
