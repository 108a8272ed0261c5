import type { EntityManager } from 'typeorm';

export interface BreakerState {
  open: boolean;
  reason: string | null;
  openedAt: Date | null;
  resumedAt: Date | null;
  resumedBy: string | null;
}

/** An incident still failing, as the breaker counts it (`instance` is tenant/service/instance). */
export interface RecentIncident {
  incidentId: string;
  at: number;
  suspectedCause?: string;
  instance: string;
}

/**
 * One-key advisory lock for the global breaker. Decisions hold it shared (remediationsRepository.lockBreakerSharedThenTenant) for their whole
 * transaction; opening or resuming holds it exclusively. So a decision either commits before
 * the breaker opens or starts after it and sees it open: none slips through in between.
 */
export const BREAKER_LOCK = 0x62726b72;

/** The only SQL about the breaker. */
export const breakerRepository = {
  async lockExclusive(m: EntityManager): Promise<void> {
    await m.query(`SELECT pg_advisory_xact_lock($1::bigint)`, [BREAKER_LOCK]);
  },

  async read(m: EntityManager): Promise<BreakerState> {
    const [row]: { open: boolean; reason: string | null; opened_at: Date | null; resumed_at: Date | null; resumed_by: string | null }[] = await m.query(
      `SELECT open, reason, opened_at, resumed_at, resumed_by FROM decision.breaker WHERE id = 1`,
    );
    return { open: row.open, reason: row.reason, openedAt: row.opened_at, resumedAt: row.resumed_at, resumedBy: row.resumed_by };
  },

  /**
   * The breaker's state and, unless it is open, the incidents opened after `windowStart` (or
   * after the last resume, whichever is later) across every tenant and still failing (neither
   * resolved nor remediated): what the breaker looks at, in one statement. Incidents already
   * healed do not make the fleet look broken, however close together they were. What arrived
   * before a human resumed was judged by that human: it must not trip the breaker again.
   */
  async readWithRecentIncidents(m: EntityManager, windowStart: Date): Promise<{ open: boolean; incidents: RecentIncident[] }> {
    const rows: { open: boolean; incident_id: string | null; opened_at: Date; suspected_cause: string | null; tenant_id: string; service: string; instance: string }[] =
      await m.query(
        `SELECT b.open, r.incident_id, r.opened_at, r.suspected_cause, r.tenant_id, r.service, r.instance
         FROM decision.breaker b
         LEFT JOIN decision.remediations r
           ON NOT b.open AND r.opened_at > GREATEST($1::timestamptz, b.resumed_at)
          AND r.incident_resolved_at IS NULL AND r.status <> 'succeeded' AND r.instance <> '*'
         WHERE b.id = 1`,
        [windowStart],
      );
    const incidents = rows.flatMap((r) =>
      r.incident_id === null
        ? []
        : [{ incidentId: r.incident_id, at: r.opened_at.getTime(), instance: `${r.tenant_id}/${r.service}/${r.instance}`, ...(r.suspected_cause ? { suspectedCause: r.suspected_cause } : {}) }],
    );
    return { open: rows[0].open, incidents };
  },

  /** Opens the breaker; false when it was open already (the first reason is kept). */
  async open(m: EntityManager, reason: string, at: Date): Promise<boolean> {
    const rows: unknown = await m.query(`UPDATE decision.breaker SET open = true, reason = $1, opened_at = $2 WHERE id = 1 AND NOT open RETURNING id`, [reason, at]);
    const list = rows as unknown[];
    return (Array.isArray(list[0]) ? (list[0] as unknown[]) : list).length === 1;
  },

  /** Closes the breaker; false when it was not open. */
  async resume(m: EntityManager, by: string, at: Date): Promise<boolean> {
    const rows: unknown = await m.query(`UPDATE decision.breaker SET open = false, resumed_at = $2, resumed_by = $1 WHERE id = 1 AND open RETURNING id`, [by, at]);
    const list = rows as unknown[];
    return (Array.isArray(list[0]) ? (list[0] as unknown[]) : list).length === 1;
  },
};
