import type { EntityManager } from 'typeorm';
import type { CandidateConsidered } from '@autoheal/contracts';

export type RemediationStatus = 'planned' | 'escalated' | 'succeeded' | 'failed';

export interface RemediationRow {
  remediationId: string;
  incidentId: string;
  tenantId: string;
  service: string;
  instance: string;
  action: string | null;
  status: RemediationStatus;
  reason: string;
  policyVersion: string;
  candidates: CandidateConsidered[];
  refusalRule: string | null;
  incidentEventId: string;
  plannedAt: Date | null;
  decidedAt: Date;
}

interface RawRow {
  remediation_id: string;
  incident_id: string;
  tenant_id: string;
  service: string;
  instance: string;
  action: string | null;
  status: RemediationStatus;
  reason: string;
  policy_version: string;
  candidates: CandidateConsidered[];
  refusal_rule: string | null;
  incident_event_id: string;
  planned_at: Date | null;
  decided_at: Date;
}

const COLUMNS = `remediation_id, incident_id, tenant_id, service, instance, action, status, reason, policy_version,
  candidates, refusal_rule, incident_event_id, planned_at, decided_at`;

/**
 * Advisory-lock class for "one tenant's decisions": the two-key lock space is separate from
 * the one-key space the migrations and the outbox relay use.
 */
const TENANT_DECISION_LOCK = 0x64656331;

function fromRaw(r: RawRow): RemediationRow {
  return {
    remediationId: r.remediation_id,
    incidentId: r.incident_id,
    tenantId: r.tenant_id,
    service: r.service,
    instance: r.instance,
    action: r.action,
    status: r.status,
    reason: r.reason,
    policyVersion: r.policy_version,
    candidates: r.candidates,
    refusalRule: r.refusal_rule,
    incidentEventId: r.incident_event_id,
    plannedAt: r.planned_at,
    decidedAt: r.decided_at,
  };
}

/** TypeORM hands back `[rows, count]` for UPDATE … RETURNING and plain rows for the rest. */
function returnedRows<T>(result: unknown): T[] {
  const list = result as unknown[];
  return (Array.isArray(list[0]) ? list[0] : list) as T[];
}

/** The only SQL about remediations. Every call takes the caller's transaction. */
export const remediationsRepository = {
  /** Serialises decisions for one tenant until the transaction ends, in every process. */
  async lockTenant(m: EntityManager, tenantId: string): Promise<void> {
    await m.query(`SELECT pg_advisory_xact_lock($1::int, hashtext($2))`, [TENANT_DECISION_LOCK, tenantId]);
  },

  /** Automatic actions planned for the tenant strictly after `since`. */
  async countAutoActionsSince(m: EntityManager, tenantId: string, since: Date): Promise<number> {
    const [row]: { n: number }[] = await m.query(
      `SELECT count(*)::int AS n FROM decision.remediations WHERE tenant_id = $1 AND planned_at > $2`,
      [tenantId, since],
    );
    return row.n;
  },

  async findByIncident(m: EntityManager, incidentId: string): Promise<RemediationRow | null> {
    const rows: RawRow[] = await m.query(`SELECT ${COLUMNS} FROM decision.remediations WHERE incident_id = $1`, [incidentId]);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /** Inserts the decision unless the incident already has one; true when inserted. */
  async insert(m: EntityManager, row: RemediationRow): Promise<boolean> {
    const inserted: unknown[] = await m.query(
      `INSERT INTO decision.remediations (${COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14)
       ON CONFLICT (incident_id) DO NOTHING
       RETURNING remediation_id`,
      [
        row.remediationId,
        row.incidentId,
        row.tenantId,
        row.service,
        row.instance,
        row.action,
        row.status,
        row.reason,
        row.policyVersion,
        JSON.stringify(row.candidates),
        row.refusalRule,
        row.incidentEventId,
        row.plannedAt,
        row.decidedAt,
      ],
    );
    return inserted.length === 1;
  },

  /** Moves a planned remediation to its outcome; null when it is unknown or already has one. */
  async recordOutcome(
    m: EntityManager,
    remediationId: string,
    outcome: { status: 'succeeded' | 'failed'; at: Date; error?: { code: string; message: string } },
  ): Promise<RemediationRow | null> {
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET status = $2, outcome_at = $3, outcome_error = $4::jsonb
       WHERE remediation_id = $1 AND status = 'planned'
       RETURNING ${COLUMNS}`,
      [remediationId, outcome.status, outcome.at, outcome.error ? JSON.stringify(outcome.error) : null],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /** Notes that the incident behind a decision is over; false when there is no decision for it. */
  async markIncidentResolved(m: EntityManager, incidentId: string, at: Date): Promise<boolean> {
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET incident_resolved_at = $2
       WHERE incident_id = $1 AND incident_resolved_at IS NULL
       RETURNING remediation_id`,
      [incidentId, at],
    );
    return returnedRows(result).length === 1;
  },
};
