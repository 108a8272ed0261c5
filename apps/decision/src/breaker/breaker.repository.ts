import type { EntityManager } from 'typeorm';
import { preparedStatement, queryPrepared } from '@autoheal/persistence';

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

/** What the breaker's window holds, as breakerWindowSql counts it. */
export interface BreakerWindow {
  open: boolean;
  suspected: number;
  instances: number;
  includesIncident: boolean;
  includesInstance: boolean;
}

/** A row of breakerWindowSql. */
export interface RawBreakerWindow {
  open: boolean;
  suspected: number;
  instances: number;
  includes_incident: boolean;
  includes_instance: boolean;
}

export function breakerWindowFromRaw(row: RawBreakerWindow): BreakerWindow {
  return { open: row.open, suspected: row.suspected, instances: row.instances, includesIncident: row.includes_incident, includesInstance: row.includes_instance };
}

/**
 * One row (columns of RawBreakerWindow): the breaker's state and, of the incidents
 * readWithRecentIncidents would read that opened no later than `now` (the breaker's window), how
 * many are marked as a suspected fault and how many distinct instances (tenant/service/instance)
 * fail; and whether the incident being decided is stored already, and its instance among those
 * counted. Zeros while the breaker is open. Parameters from `$first`: the window's start, `now`,
 * the incident's id and its instance key. A subquery of its own, so that a decision's state can
 * include it (remediationsRepository.openedDecisionState).
 *
 * Rows are grouped per instance first (hashed), which costs less than counting distinct keys
 * over a sorted storm. `in_window`: no later than `now` at the millisecond, as JavaScript sees a
 * row's opened_at.
 */
export function breakerWindowSql(first: number): string {
  const [windowStart, now, incidentId, instanceKey] = [first, first + 1, first + 2, first + 3].map((n) => `$${n}`);
  return `SELECT b.open,
         coalesce(sum(r.suspected), 0)::int AS suspected,
         count(*) FILTER (WHERE r.in_window)::int AS instances,
         coalesce(bool_or(r.includes_incident), false) AS includes_incident,
         coalesce(bool_or(r.in_window AND r.instance_key = ${instanceKey}::text), false) AS includes_instance
       FROM decision.breaker b
       LEFT JOIN LATERAL (
         SELECT tenant_id || '/' || service || '/' || instance AS instance_key,
                count(*) FILTER (WHERE opened_at < ${now}::timestamptz + interval '1 millisecond' AND suspected_cause <> '') AS suspected,
                bool_or(opened_at < ${now}::timestamptz + interval '1 millisecond') AS in_window,
                bool_or(incident_id = ${incidentId}::uuid) AS includes_incident
         FROM decision.remediations
         WHERE NOT b.open AND opened_at > GREATEST(${windowStart}::timestamptz, b.resumed_at)
           AND incident_resolved_at IS NULL AND status <> 'succeeded' AND instance <> '*'
         GROUP BY 1
       ) r ON true
       WHERE b.id = 1
       GROUP BY b.open`;
}

const READ_WINDOW = preparedStatement('decision_breaker_window', breakerWindowSql(1));

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
   * What readWithRecentIncidents would show, counted in Postgres instead of sent row by row (a
   * storm is hundreds of rows, read twice per decision): see breakerWindowSql.
   */
  async readWindow(m: EntityManager, windowStart: Date, now: Date, incident: { incidentId: string; instance: string }): Promise<BreakerWindow> {
    const [row] = await queryPrepared<RawBreakerWindow>(m, READ_WINDOW, [windowStart, now, incident.incidentId, incident.instance]);
    return breakerWindowFromRaw(row);
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
