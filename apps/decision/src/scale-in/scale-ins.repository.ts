import type { EntityManager } from 'typeorm';
import type { ExecutionSpec } from '../planning/policy-port.js';
import { tenantFromRaw, type RawTenant } from '../tenants/tenants.repository.js';
import type { PendingScaleIn, ScaleInState, ServiceIncident } from './scale-in.js';

export type ScaleInStatus = 'pending' | 'planned' | 'skipped' | 'succeeded' | 'failed';

export interface ScaleInRow extends PendingScaleIn {
  status: ScaleInStatus;
  dueAt: Date | null;
  reason: string;
  policyVersion: string | null;
  execution: ExecutionSpec | null;
  decidedAt: Date | null;
}

interface RawRow {
  scale_out_id: string;
  remediation_id: string;
  incident_id: string;
  tenant_id: string;
  service: string;
  instance: string;
  verified_at: Date;
  after_ms: number;
  status: ScaleInStatus;
  due_at: Date | null;
  reason: string;
  policy_version: string | null;
  execution: ExecutionSpec | null;
  decided_at: Date | null;
}

const COLUMNS = `scale_out_id, remediation_id, incident_id, tenant_id, service, instance, verified_at, after_ms, status, due_at, reason,
  policy_version, execution, decided_at`;

function fromRaw(r: RawRow): ScaleInRow {
  return {
    scaleOutId: r.scale_out_id,
    remediationId: r.remediation_id,
    incidentId: r.incident_id,
    tenantId: r.tenant_id,
    service: r.service,
    instance: r.instance,
    verifiedAt: r.verified_at,
    afterMs: r.after_ms,
    status: r.status,
    dueAt: r.due_at,
    reason: r.reason,
    policyVersion: r.policy_version,
    execution: r.execution,
    decidedAt: r.decided_at,
  };
}

/** TypeORM hands back `[rows, count]` for UPDATE … RETURNING and plain rows for the rest. */
function returnedRows<T>(result: unknown): T[] {
  const list = result as unknown[];
  return (Array.isArray(list[0]) ? list[0] : list) as T[];
}

/** The only SQL about scale-ins. Every call takes the caller's transaction. */
export const scaleInsRepository = {
  /**
   * A scale_out was verified: its scale-in waits, first judged at `dueAt`. Once per scale_out
   * (a second verification of the same remediation changes nothing); false when it was there.
   */
  async arm(m: EntityManager, pending: PendingScaleIn, dueAt: Date): Promise<boolean> {
    const rows: unknown[] = await m.query(
      `INSERT INTO decision.scale_ins (scale_out_id, remediation_id, incident_id, tenant_id, service, instance, verified_at, after_ms, status, due_at, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10)
       ON CONFLICT (scale_out_id) DO NOTHING
       RETURNING scale_out_id`,
      [
        pending.scaleOutId,
        pending.remediationId,
        pending.incidentId,
        pending.tenantId,
        pending.service,
        pending.instance,
        pending.verifiedAt,
        pending.afterMs,
        dueAt,
        `scale_out verified: scaling back in once ${pending.service} has stayed quiet for ${pending.afterMs} ms`,
      ],
    );
    return rows.length === 1;
  },

  /** The pending scale-in due first, locked for this transaction; other workers skip it. */
  async claimDue(m: EntityManager, now: Date): Promise<ScaleInRow | null> {
    const rows: RawRow[] = await m.query(
      `SELECT ${COLUMNS} FROM decision.scale_ins WHERE status = 'pending' AND due_at <= $1 ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
      [now],
    );
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  async findByRemediationId(m: EntityManager, remediationId: string): Promise<ScaleInRow | null> {
    const rows: RawRow[] = await m.query(`SELECT ${COLUMNS} FROM decision.scale_ins WHERE remediation_id = $1`, [remediationId]);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /**
   * What decideScaleIn reads, in one statement under the tenant's lock: the tenant's document,
   * the breaker holding its automatic actions, and the service's other incidents that are open
   * or resolved after the scale_out was verified (opened no later than `now`).
   */
  async state(m: EntityManager, pending: PendingScaleIn, now: Date): Promise<ScaleInState> {
    const [row]: (Partial<RawTenant> & {
      breaker_open: boolean;
      breaker_reason: string | null;
      incidents: { incident_id: string; opened_at: string; resolved_at: string | null }[] | null;
    })[] = await m.query(
      `SELECT (b.open OR coalesce(tb.open, false)) AS breaker_open,
              CASE WHEN b.open THEN b.reason ELSE tb.reason END AS breaker_reason,
              t.tenant_id, t.document, t.policy_version, t.applied_by, t.updated_at,
              (SELECT json_agg(json_build_object('incident_id', r.incident_id, 'opened_at', r.opened_at, 'resolved_at', r.incident_resolved_at) ORDER BY r.opened_at)
                 FROM decision.remediations r
                WHERE r.tenant_id = $1 AND r.service = $2 AND r.incident_id <> $3 AND r.opened_at <= $5
                  AND (r.incident_resolved_at IS NULL OR r.incident_resolved_at > $4)) AS incidents
         FROM decision.breaker b
         LEFT JOIN decision.tenant_breakers tb ON tb.tenant_id = $1
         LEFT JOIN decision.tenants t ON t.tenant_id = $1
        WHERE b.id = 1`,
      [pending.tenantId, pending.service, pending.incidentId, pending.verifiedAt, now],
    );
    const tenant = row.tenant_id ? tenantFromRaw(row as RawTenant) : null;
    const incidents: ServiceIncident[] = (row.incidents ?? []).map((i) => ({
      incidentId: i.incident_id,
      openedAt: new Date(i.opened_at),
      resolvedAt: i.resolved_at === null ? null : new Date(i.resolved_at),
    }));
    return {
      tenant: tenant ? { document: tenant.document, policyVersion: tenant.policyVersion } : null,
      breaker: { open: row.breaker_open, reason: row.breaker_reason },
      incidents,
    };
  },

  /** Not yet: judged again at `until`. Null when it is no longer pending. */
  async postpone(m: EntityManager, scaleOutId: string, until: Date, reason: string): Promise<boolean> {
    const result: unknown = await m.query(
      `UPDATE decision.scale_ins SET due_at = $2, reason = $3 WHERE scale_out_id = $1 AND status = 'pending' RETURNING scale_out_id`,
      [scaleOutId, until, reason],
    );
    return returnedRows(result).length === 1;
  },

  /** Decided: planned (with its execution) or skipped. False when it is no longer pending. */
  async decide(
    m: EntityManager,
    scaleOutId: string,
    d: { status: 'planned' | 'skipped'; reason: string; policyVersion: string | null; execution: ExecutionSpec | null; at: Date },
  ): Promise<boolean> {
    const result: unknown = await m.query(
      `UPDATE decision.scale_ins SET status = $2, due_at = NULL, reason = $3, policy_version = $4, execution = $5::jsonb, decided_at = $6
       WHERE scale_out_id = $1 AND status = 'pending' RETURNING scale_out_id`,
      [scaleOutId, d.status, d.reason, d.policyVersion, d.execution ? JSON.stringify(d.execution) : null, d.at],
    );
    return returnedRows(result).length === 1;
  },

  /** The executor's outcome of a planned scale-in; null when the id is no planned scale-in (any more). */
  async recordOutcome(m: EntityManager, remediationId: string, outcome: { status: 'succeeded' | 'failed'; at: Date; error?: { code: string; message: string } }): Promise<ScaleInRow | null> {
    const result: unknown = await m.query(
      `UPDATE decision.scale_ins SET status = $2, outcome_at = $3, outcome_error = $4::jsonb
       WHERE remediation_id = $1 AND status = 'planned'
       RETURNING ${COLUMNS}`,
      [remediationId, outcome.status, outcome.at, outcome.error ? JSON.stringify(outcome.error) : null],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },
};
