import type { EntityManager } from 'typeorm';

export type ExecutionStatus = 'started' | 'succeeded' | 'failed';

export interface ExecutionRow {
  remediationId: string;
  incidentId: string;
  tenantId: string;
  service: string;
  instance: string;
  action: string;
  driver: string;
  status: ExecutionStatus;
  attempts: number;
  startedAt: Date;
  finishedAt: Date | null;
  result: Record<string, unknown> | null;
}

export type NewExecution = Omit<ExecutionRow, 'status' | 'attempts' | 'finishedAt' | 'result'>;

interface RawRow {
  remediation_id: string;
  incident_id: string;
  tenant_id: string;
  service: string;
  instance: string;
  action: string;
  driver: string;
  status: ExecutionStatus;
  attempts: number;
  started_at: Date;
  finished_at: Date | null;
  result: Record<string, unknown> | null;
}

const COLUMNS = 'remediation_id, incident_id, tenant_id, service, instance, action, driver, status, attempts, started_at, finished_at, result';

function fromRaw(r: RawRow): ExecutionRow {
  return {
    remediationId: r.remediation_id,
    incidentId: r.incident_id,
    tenantId: r.tenant_id,
    service: r.service,
    instance: r.instance,
    action: r.action,
    driver: r.driver,
    status: r.status,
    attempts: r.attempts,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    result: r.result,
  };
}

/** TypeORM hands back `[rows, count]` for UPDATE … RETURNING and plain rows for the rest. */
function returnedRows<T>(result: unknown): T[] {
  const list = result as unknown[];
  return (Array.isArray(list[0]) ? list[0] : list) as T[];
}

/** The only SQL about executions. Every call takes the caller's transaction. */
export const executionsRepository = {
  /** Claims the remediation; true when this call created the execution. */
  async claim(m: EntityManager, row: NewExecution): Promise<boolean> {
    const inserted: unknown[] = await m.query(
      `INSERT INTO executor.executions (remediation_id, incident_id, tenant_id, service, instance, action, driver, status, attempts, started_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'started', 0, $8)
       ON CONFLICT (remediation_id) DO NOTHING
       RETURNING remediation_id`,
      [row.remediationId, row.incidentId, row.tenantId, row.service, row.instance, row.action, row.driver, row.startedAt],
    );
    return inserted.length === 1;
  },

  /**
   * Takes the lease on an unfinished execution and counts one more try; null when it has a
   * final status or another delivery holds a lease that has not run out.
   */
  async beginAttempt(m: EntityManager, remediationId: string, now: Date, leaseUntil: Date): Promise<ExecutionRow | null> {
    const result: unknown = await m.query(
      `UPDATE executor.executions SET attempts = attempts + 1, lease_until = $3
       WHERE remediation_id = $1 AND status = 'started' AND (lease_until IS NULL OR lease_until <= $2)
       RETURNING ${COLUMNS}`,
      [remediationId, now, leaseUntil],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /** Gives the lease back after an attempt that ended without an answer, so a retry need not wait it out. */
  async releaseLease(m: EntityManager, remediationId: string): Promise<void> {
    await m.query(`UPDATE executor.executions SET lease_until = NULL WHERE remediation_id = $1 AND status = 'started'`, [remediationId]);
  },

  /** Sets the final status once; null when another attempt got there first. */
  async finish(
    m: EntityManager,
    remediationId: string,
    outcome: { status: 'succeeded' | 'failed'; finishedAt: Date; result: Record<string, unknown> },
  ): Promise<ExecutionRow | null> {
    const result: unknown = await m.query(
      `UPDATE executor.executions SET status = $2, finished_at = $3, result = $4::jsonb, lease_until = NULL
       WHERE remediation_id = $1 AND status = 'started'
       RETURNING ${COLUMNS}`,
      [remediationId, outcome.status, outcome.finishedAt, JSON.stringify(outcome.result)],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  async find(m: EntityManager, remediationId: string): Promise<ExecutionRow | null> {
    const rows: RawRow[] = await m.query(`SELECT ${COLUMNS} FROM executor.executions WHERE remediation_id = $1`, [remediationId]);
    return rows[0] ? fromRaw(rows[0]) : null;
  },
};
