import type { EntityManager } from 'typeorm';
import type { SwitchoverArmRow } from './switchover-arm.js';

interface RawRow {
  tenant_id: string;
  service: string;
  status: SwitchoverArmRow['status'];
  remediation_id: string | null;
  policy_version: string | null;
  expires_at: Date | null;
  due_at: Date;
  reason: string;
}

const COLUMNS = 'tenant_id, service, status, remediation_id, policy_version, expires_at, due_at, reason';

function fromRaw(r: RawRow): SwitchoverArmRow {
  return {
    tenantId: r.tenant_id,
    service: r.service,
    status: r.status,
    remediationId: r.remediation_id,
    policyVersion: r.policy_version,
    expiresAt: r.expires_at,
    dueAt: r.due_at,
    reason: r.reason,
  };
}

/** TypeORM hands back `[rows, count]` for UPDATE … RETURNING and plain rows for the rest. */
function returnedRows<T>(result: unknown): T[] {
  const list = result as unknown[];
  return (Array.isArray(list[0]) ? list[0] : list) as T[];
}

/** The only SQL about armed switchovers. Every call takes the caller's transaction. */
export const switchoverArmsRepository = {
  /** A row, due now, for every service a tenant's document gives warm spares that has none yet. Returns how many were added. */
  async discover(m: EntityManager, now: Date): Promise<number> {
    const result: unknown = await m.query(
      `INSERT INTO decision.switchover_arms (tenant_id, service, status, due_at, reason)
       SELECT t.tenant_id, s->>'service', 'new', $1, 'declared with warm spares: to be judged'
         FROM decision.tenants t CROSS JOIN LATERAL jsonb_array_elements(t.document->'inventory'->'services') s
        WHERE coalesce((s->>'warmSpares')::int, 0) > 0
       ON CONFLICT (tenant_id, service) DO NOTHING
       RETURNING tenant_id`,
      [now],
    );
    return returnedRows(result).length;
  },

  /** The arm due to be judged first, locked for this transaction; other workers skip it. */
  async claimDue(m: EntityManager, now: Date): Promise<SwitchoverArmRow | null> {
    const rows: RawRow[] = await m.query(`SELECT ${COLUMNS} FROM decision.switchover_arms WHERE due_at <= $1 ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED`, [now]);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  async find(m: EntityManager, tenantId: string, service: string): Promise<SwitchoverArmRow | null> {
    const rows: RawRow[] = await m.query(`SELECT ${COLUMNS} FROM decision.switchover_arms WHERE tenant_id = $1 AND service = $2`, [tenantId, service]);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /** The judgement's result on the claimed row. */
  async update(
    m: EntityManager,
    key: { tenantId: string; service: string },
    d: { status: SwitchoverArmRow['status']; remediationId: string | null; policyVersion: string | null; expiresAt: Date | null; dueAt: Date; reason: string; at: Date },
  ): Promise<void> {
    await m.query(
      `UPDATE decision.switchover_arms SET status = $3, remediation_id = $4, policy_version = $5, expires_at = $6, due_at = $7, reason = $8, decided_at = $9
        WHERE tenant_id = $1 AND service = $2`,
      [key.tenantId, key.service, d.status, d.remediationId, d.policyVersion, d.expiresAt, d.dueAt, d.reason, d.at],
    );
  },

  /** Judged again at `until`, nothing else changed. */
  async postpone(m: EntityManager, key: { tenantId: string; service: string }, until: Date, reason: string): Promise<void> {
    await m.query(`UPDATE decision.switchover_arms SET due_at = $3, reason = $4 WHERE tenant_id = $1 AND service = $2`, [key.tenantId, key.service, until, reason]);
  },

  /**
   * An agent switched under the arm (a remediation's reply says `underArm`): used, to be armed
   * again at once. False when it is not the service's current arm (a withdrawn or older one).
   */
  async markUsed(m: EntityManager, remediationId: string, now: Date): Promise<boolean> {
    const result: unknown = await m.query(
      `UPDATE decision.switchover_arms SET status = 'used', due_at = $2, reason = 'used by the agent for a crash: to be armed again'
        WHERE remediation_id = $1 AND status = 'armed' RETURNING tenant_id`,
      [remediationId, now],
    );
    return returnedRows(result).length === 1;
  },

  /** The executor could not arm the agent: judged again after `retryAt`. Null when the id is no arm (any more). */
  async recordFailure(m: EntityManager, remediationId: string, retryAt: Date, message: string): Promise<SwitchoverArmRow | null> {
    const result: unknown = await m.query(
      `UPDATE decision.switchover_arms SET status = 'failed', due_at = $2, reason = $3 WHERE remediation_id = $1 AND status = 'armed' RETURNING ${COLUMNS}`,
      [remediationId, retryAt, `the agent was not armed: ${message}`.slice(0, 2000)],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /** Whether the id is an arm's (any status): its success needs no verification. */
  async isArm(m: EntityManager, remediationId: string): Promise<boolean> {
    const rows: unknown[] = await m.query(`SELECT 1 FROM decision.switchover_arms WHERE remediation_id = $1`, [remediationId]);
    return rows.length === 1;
  },
};

/** The arm a remediation's success says an agent switched under (`effects[].detail.underArm`), if any. */
export function armUsedBy(details: Record<string, unknown>): string | null {
  const effects = Array.isArray(details.effects) ? (details.effects as { detail?: { underArm?: unknown } }[]) : [];
  for (const effect of effects) if (typeof effect?.detail?.underArm === 'string') return effect.detail.underArm;
  return null;
}
