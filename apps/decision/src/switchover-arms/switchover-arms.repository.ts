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
  used_incident_id: string | null;
  used_at: Date | null;
  used_verified: boolean;
}

/** The row's columns, and whether the incident a used arm healed has a verified remediation (read with the row, from its own table). */
const COLUMNS = `a.tenant_id, a.service, a.status, a.remediation_id, a.policy_version, a.expires_at, a.due_at, a.reason, a.used_incident_id, a.used_at,
  EXISTS (SELECT 1 FROM decision.remediations r WHERE r.incident_id = a.used_incident_id AND r.status = 'verified') AS used_verified`;

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
    used: r.status === 'used' && r.used_at ? { incidentId: r.used_incident_id ?? 'unknown', at: r.used_at, verified: r.used_verified } : null,
  };
}

/** TypeORM hands back `[rows, count]` for UPDATE … RETURNING and plain rows for the rest. */
function returnedRows<T>(result: unknown): T[] {
  const list = result as unknown[];
  return (Array.isArray(list[0]) ? list[0] : list) as T[];
}

/** The only SQL about armed switchovers. Every call takes the caller's transaction. */
export const switchoverArmsRepository = {
  /**
   * A row, due now, for every service of a tenant's document that may be armed and has none yet:
   * on the agent runtime (a restart in place), or with warm spares (judged, and refused when the
   * runtime cannot carry an arm). Returns how many were added.
   */
  async discover(m: EntityManager, now: Date): Promise<number> {
    const result: unknown = await m.query(
      `INSERT INTO decision.switchover_arms (tenant_id, service, status, due_at, reason)
       SELECT t.tenant_id, s->>'service', 'new', $1, 'declared on the agent runtime or with warm spares: to be judged'
         FROM decision.tenants t CROSS JOIN LATERAL jsonb_array_elements(t.document->'inventory'->'services') s
        WHERE coalesce((s->>'warmSpares')::int, 0) > 0 OR coalesce(s->'runtime'->>'kind', 'agent') = 'agent'
       ON CONFLICT (tenant_id, service) DO NOTHING
       RETURNING tenant_id`,
      [now],
    );
    return returnedRows(result).length;
  },

  /** The arm due to be judged first, locked for this transaction; other workers skip it. */
  async claimDue(m: EntityManager, now: Date): Promise<SwitchoverArmRow | null> {
    const rows: RawRow[] = await m.query(`SELECT ${COLUMNS} FROM decision.switchover_arms a WHERE a.due_at <= $1 ORDER BY a.due_at LIMIT 1 FOR UPDATE OF a SKIP LOCKED`, [now]);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  async find(m: EntityManager, tenantId: string, service: string): Promise<SwitchoverArmRow | null> {
    const rows: RawRow[] = await m.query(`SELECT ${COLUMNS} FROM decision.switchover_arms a WHERE a.tenant_id = $1 AND a.service = $2`, [tenantId, service]);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /** The judgement's result on the claimed row. */
  async update(
    m: EntityManager,
    key: { tenantId: string; service: string },
    d: { status: SwitchoverArmRow['status']; remediationId: string | null; policyVersion: string | null; expiresAt: Date | null; dueAt: Date; reason: string; at: Date },
  ): Promise<void> {
    await m.query(
      `UPDATE decision.switchover_arms SET status = $3, remediation_id = $4, policy_version = $5, expires_at = $6, due_at = $7, reason = $8, decided_at = $9,
              used_incident_id = CASE WHEN $3 = 'used' THEN used_incident_id END, used_at = CASE WHEN $3 = 'used' THEN used_at END
        WHERE tenant_id = $1 AND service = $2`,
      [key.tenantId, key.service, d.status, d.remediationId, d.policyVersion, d.expiresAt, d.dueAt, d.reason, d.at],
    );
  },

  /** Judged again at `until`, nothing else changed. */
  async postpone(m: EntityManager, key: { tenantId: string; service: string }, until: Date, reason: string): Promise<void> {
    await m.query(`UPDATE decision.switchover_arms SET due_at = $3, reason = $4 WHERE tenant_id = $1 AND service = $2`, [key.tenantId, key.service, until, reason]);
  },

  /**
   * An agent healed a crash under the arm (a remediation's reply says `underArm`): used, judged
   * again at once (armed again once the incident is verified and the cooldown has passed: see
   * decideArm). False when it is not the service's current arm (a withdrawn or older one).
   */
  async markUsed(m: EntityManager, remediationId: string, incidentId: string, now: Date): Promise<boolean> {
    const result: unknown = await m.query(
      `UPDATE decision.switchover_arms SET status = 'used', due_at = $2, used_incident_id = $3, used_at = $2, reason = $4
        WHERE remediation_id = $1 AND status = 'armed' RETURNING tenant_id`,
      [remediationId, now, incidentId, `used by the agent for the crash of incident ${incidentId}: armed again once it is verified and the cooldown has passed`],
    );
    return returnedRows(result).length === 1;
  },

  /**
   * The executor could not arm the agent: judged again `retryMs` after `failedAt`, doubled for
   * each failure in a row before it (an unreachable agent, a lost host, is not asked every few
   * seconds), at most `maxRetryMs`. Null when the id is no arm (any more).
   */
  async recordFailure(m: EntityManager, remediationId: string, failedAt: Date, retry: { retryMs: number; maxRetryMs: number }, message: string): Promise<SwitchoverArmRow | null> {
    const result: unknown = await m.query(
      `UPDATE decision.switchover_arms a SET status = 'failed', failures = a.failures + 1, reason = $3,
              due_at = $2::timestamptz + make_interval(secs => least($4::float8 * power(2, least(a.failures, 20)), $5::float8) / 1000)
        WHERE a.remediation_id = $1 AND a.status = 'armed' RETURNING ${COLUMNS}`,
      [remediationId, failedAt, `the agent was not armed: ${message}`.slice(0, 2000), retry.retryMs, retry.maxRetryMs],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /** Whether the id is an arm's (any status): its success needs no verification. The agent took it: the failures in a row end. */
  async recordArmed(m: EntityManager, remediationId: string): Promise<boolean> {
    const rows: unknown[] = await m.query(`UPDATE decision.switchover_arms SET failures = 0 WHERE remediation_id = $1 RETURNING 1`, [remediationId]);
    return returnedRows(rows).length === 1;
  },
};

/** The arm a remediation's success says an agent healed (switched or restarted) under (`effects[].detail.underArm`), if any. */
export function armUsedBy(details: Record<string, unknown>): string | null {
  const effects = Array.isArray(details.effects) ? (details.effects as { detail?: { underArm?: unknown } }[]) : [];
  for (const effect of effects) if (typeof effect?.detail?.underArm === 'string') return effect.detail.underArm;
  return null;
}

/** The arm an incident's evidence says the agent healed its crash under (`switchedUnderArm`, `restartedUnderArm`), if any. */
export function armNamedBy(evidence: Record<string, unknown>): string | null {
  for (const key of ['switchedUnderArm', 'restartedUnderArm']) if (typeof evidence[key] === 'string') return evidence[key];
  return null;
}
