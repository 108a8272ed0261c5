import type { EntityManager } from 'typeorm';
import { preparedStatement, queryPrepared } from '@autoheal/persistence';
import type { TenantFailures } from '../planning/policy-port.js';

export interface BreakerState {
  open: boolean;
  reason: string | null;
  openedAt: Date | null;
  resumedAt: Date | null;
  resumedBy: string | null;
}

/** One tenant's breaker; a tenant whose breaker never opened has no row and reads as closed. */
export interface TenantBreakerState extends BreakerState {
  tenantId: string;
}

/**
 * One-key advisory lock for the global breaker. Decisions hold it shared (remediationsRepository.lockBreakerSharedThenTenant) for their whole
 * transaction; opening or resuming holds it exclusively. So a decision either commits before
 * the breaker opens or starts after it and sees it open: none slips through in between.
 * A tenant's breaker is opened and resumed under the same locks a decision of that tenant takes
 * (this one shared, then the tenant's), with the same effect for that tenant's decisions.
 */
export const BREAKER_LOCK = 0x62726b72;

/** What a tenant's breaker window holds, as tenantWindowSql counts it. */
export interface BreakerWindow {
  globalOpen: boolean;
  tenantOpen: boolean;
  /** Why the open breakers opened (null when closed). */
  globalReason: string | null;
  tenantReason: string | null;
  /** Counted incidents (any tenant, not undeclared) in the global window marked as a suspected fault. */
  suspected: number;
  /** Distinct counted instances of the tenant failing in its window. */
  failing: number;
  includesIncident: boolean;
  includesInstance: boolean;
}

/** A row of tenantWindowSql. */
export interface RawBreakerWindow {
  global_open: boolean;
  tenant_open: boolean;
  global_reason: string | null;
  tenant_reason: string | null;
  suspected: number;
  failing: number;
  includes_incident: boolean;
  includes_instance: boolean;
}

export function breakerWindowFromRaw(row: RawBreakerWindow): BreakerWindow {
  return {
    globalOpen: row.global_open,
    tenantOpen: row.tenant_open,
    globalReason: row.global_open ? row.global_reason : null,
    tenantReason: row.tenant_open ? row.tenant_reason : null,
    suspected: row.suspected,
    failing: row.failing,
    includesIncident: row.includes_incident,
    includesInstance: row.includes_instance,
  };
}

/** Still failing: neither resolved nor remediated. An incident already healed makes nothing look broken. */
const STILL_FAILING = `incident_resolved_at IS NULL AND status NOT IN ('succeeded', 'verifying', 'verified') AND instance <> '*'`;

/** Instances the tenant document `t` declares, in SQL (policy's declaredInstanceCount). */
const DECLARED_INSTANCES = `(SELECT coalesce(sum(jsonb_array_length(coalesce(s.value->'instances', '[]'::jsonb))), 0)::int
   FROM jsonb_array_elements(coalesce(t.document->'inventory'->'services', '[]'::jsonb)) s)`;

/**
 * One row (columns of RawBreakerWindow): both breakers' state for the tenant and, of its incidents
 * still failing that opened no later than `now` in the window (and after the last resume of
 * either breaker: what arrived before a human resumed was judged by that human), how many distinct
 * instances count (`breaker_standing` other than `undeclared`); whether the incident being
 * decided is stored already and its instance among those counted; and, across every tenant, how
 * many counted incidents in the window are marked as a suspected fault. Parameters: the tenant
 * at `$tenantParam`; from `$first`: the window's start, `now`, the incident's id and its
 * `service/instance`. A subquery of its own, so that a decision's state can include it
 * (remediationsRepository.openedDecisionState). `in_window`: no later than `now` at the
 * millisecond, as JavaScript sees a row's opened_at.
 */
export function tenantWindowSql(tenantParam: number, first: number): string {
  const tenant = `$${tenantParam}::text`;
  const [windowStart, now, incidentId, instanceKey] = [first, first + 1, first + 2, first + 3].map((n) => `$${n}`);
  const until = `${now}::timestamptz + interval '1 millisecond'`;
  return `SELECT b.open AS global_open, coalesce(tb.open, false) AS tenant_open, b.reason AS global_reason, tb.reason AS tenant_reason,
         (SELECT count(*)::int FROM decision.remediations
           WHERE NOT b.open AND opened_at > GREATEST(${windowStart}::timestamptz, b.resumed_at) AND opened_at < ${until}
             AND ${STILL_FAILING} AND suspected_cause <> '' AND breaker_standing <> 'undeclared') AS suspected,
         coalesce(w.failing, 0) AS failing, coalesce(w.includes_incident, false) AS includes_incident, coalesce(w.includes_instance, false) AS includes_instance
       FROM decision.breaker b
       LEFT JOIN decision.tenant_breakers tb ON tb.tenant_id = ${tenant}
       LEFT JOIN LATERAL (
         SELECT count(*) FILTER (WHERE r.in_window)::int AS failing,
                bool_or(r.includes_incident) AS includes_incident,
                bool_or(r.in_window AND r.instance_key = ${instanceKey}::text) AS includes_instance
         FROM (
           SELECT service || '/' || instance AS instance_key,
                  bool_or(opened_at < ${until}) AS in_window,
                  bool_or(incident_id = ${incidentId}::uuid) AS includes_incident
           FROM decision.remediations
           WHERE tenant_id = ${tenant} AND opened_at > GREATEST(${windowStart}::timestamptz, b.resumed_at, tb.resumed_at)
             AND ${STILL_FAILING} AND breaker_standing <> 'undeclared'
           GROUP BY 1
         ) r
       ) w ON true
       WHERE b.id = 1`;
}

const READ_WINDOW = preparedStatement('decision_tenant_breaker_window', tenantWindowSql(1, 2));

/** TypeORM hands back `[rows, count]` for UPDATE … RETURNING and plain rows for the rest. */
function changedOne(result: unknown): boolean {
  const list = result as unknown[];
  return (Array.isArray(list[0]) ? (list[0] as unknown[]) : list).length === 1;
}

interface RawState {
  open: boolean;
  reason: string | null;
  opened_at: Date | null;
  resumed_at: Date | null;
  resumed_by: string | null;
}

function stateFromRaw(row: RawState): BreakerState {
  return { open: row.open, reason: row.reason, openedAt: row.opened_at, resumedAt: row.resumed_at, resumedBy: row.resumed_by };
}

/** The only SQL about the breakers. */
export const breakerRepository = {
  async lockExclusive(m: EntityManager): Promise<void> {
    await m.query(`SELECT pg_advisory_xact_lock($1::bigint)`, [BREAKER_LOCK]);
  },

  async read(m: EntityManager): Promise<BreakerState> {
    const [row]: RawState[] = await m.query(`SELECT open, reason, opened_at, resumed_at, resumed_by FROM decision.breaker WHERE id = 1`);
    return stateFromRaw(row);
  },

  /** A tenant's breaker; closed and never opened when it has no row. */
  async readTenant(m: EntityManager, tenantId: string): Promise<TenantBreakerState> {
    const [row]: RawState[] = await m.query(`SELECT open, reason, opened_at, resumed_at, resumed_by FROM decision.tenant_breakers WHERE tenant_id = $1`, [tenantId]);
    return { tenantId, ...(row ? stateFromRaw(row) : { open: false, reason: null, openedAt: null, resumedAt: null, resumedBy: null }) };
  },

  /** Every tenant breaker that ever opened, open ones first. */
  async listTenants(m: EntityManager): Promise<TenantBreakerState[]> {
    const rows: (RawState & { tenant_id: string })[] = await m.query(
      `SELECT tenant_id, open, reason, opened_at, resumed_at, resumed_by FROM decision.tenant_breakers ORDER BY open DESC, tenant_id`,
    );
    return rows.map((r) => ({ tenantId: r.tenant_id, ...stateFromRaw(r) }));
  },

  /** See tenantWindowSql; `incident.instance` is `service/instance`. */
  async readWindow(m: EntityManager, tenantId: string, windowStart: Date, now: Date, incident: { incidentId: string; instance: string }): Promise<BreakerWindow> {
    const [row] = await queryPrepared<RawBreakerWindow>(m, READ_WINDOW, [tenantId, windowStart, now, incident.incidentId, incident.instance]);
    return breakerWindowFromRaw(row);
  },

  /**
   * What the global rule looks at, unless the global breaker is open: per tenant with declared
   * incidents still failing in the window (since the last resume of the global breaker and of the
   * tenant's own), the distinct declared instances failing and how many its inventory declares;
   * how many tenants declare an inventory; and the causes of counted suspected-fault incidents.
   */
  async readGlobalWindow(
    m: EntityManager,
    windowStart: Date,
    now: Date,
  ): Promise<{ open: boolean; tenants: TenantFailures[]; declaredTenants: number; suspectedCauses: string[] }> {
    const until = `$2::timestamptz + interval '1 millisecond'`;
    const [state]: { open: boolean; declared_tenants: number; suspected_causes: string[] | null }[] = await m.query(
      `SELECT b.open,
         (SELECT count(*)::int FROM decision.tenants t WHERE t.document IS NOT NULL AND ${DECLARED_INSTANCES} > 0) AS declared_tenants,
         (SELECT array_agg(suspected_cause) FROM decision.remediations
           WHERE opened_at > GREATEST($1::timestamptz, b.resumed_at) AND opened_at < ${until}
             AND ${STILL_FAILING} AND suspected_cause <> '' AND breaker_standing <> 'undeclared') AS suspected_causes
       FROM decision.breaker b WHERE b.id = 1`,
      [windowStart, now],
    );
    if (state.open) return { open: true, tenants: [], declaredTenants: state.declared_tenants, suspectedCauses: [] };
    const rows: { tenant_id: string; failing: number; declared: number }[] = await m.query(
      `WITH counted AS (
         SELECT r.tenant_id, count(DISTINCT r.service || '/' || r.instance)::int AS failing
         FROM decision.breaker b
         JOIN decision.remediations r ON r.opened_at > GREATEST($1::timestamptz, b.resumed_at) AND r.opened_at < ${until}
         LEFT JOIN decision.tenant_breakers tb ON tb.tenant_id = r.tenant_id
         WHERE b.id = 1 AND (tb.resumed_at IS NULL OR r.opened_at > tb.resumed_at)
           AND r.incident_resolved_at IS NULL AND r.status NOT IN ('succeeded', 'verifying', 'verified') AND r.instance <> '*' AND r.breaker_standing = 'declared'
         GROUP BY r.tenant_id
       )
       SELECT c.tenant_id, c.failing, ${DECLARED_INSTANCES} AS declared
       FROM counted c JOIN decision.tenants t ON t.tenant_id = c.tenant_id
       ORDER BY c.tenant_id`,
      [windowStart, now],
    );
    return {
      open: false,
      tenants: rows.map((r) => ({ tenantId: r.tenant_id, failing: r.failing, declaredInstances: r.declared })),
      declaredTenants: state.declared_tenants,
      suspectedCauses: state.suspected_causes ?? [],
    };
  },

  /** Opens the global breaker; false when it was open already (the first reason is kept). */
  async open(m: EntityManager, reason: string, at: Date): Promise<boolean> {
    return changedOne(await m.query(`UPDATE decision.breaker SET open = true, reason = $1, opened_at = $2 WHERE id = 1 AND NOT open RETURNING id`, [reason, at]));
  },

  /** Closes the global breaker; false when it was not open. */
  async resume(m: EntityManager, by: string, at: Date): Promise<boolean> {
    return changedOne(await m.query(`UPDATE decision.breaker SET open = false, resumed_at = $2, resumed_by = $1 WHERE id = 1 AND open RETURNING id`, [by, at]));
  },

  /** Opens a tenant's breaker; false when it was open already (the first reason is kept). */
  async openTenant(m: EntityManager, tenantId: string, reason: string, at: Date): Promise<boolean> {
    const rows: unknown[] = await m.query(
      `INSERT INTO decision.tenant_breakers (tenant_id, open, reason, opened_at) VALUES ($1, true, $2, $3)
       ON CONFLICT (tenant_id) DO UPDATE SET open = true, reason = EXCLUDED.reason, opened_at = EXCLUDED.opened_at
         WHERE NOT decision.tenant_breakers.open
       RETURNING tenant_id`,
      [tenantId, reason, at],
    );
    return rows.length === 1;
  },

  /** Closes a tenant's breaker; false when it was not open (an unknown tenant included: nothing is created). */
  async resumeTenant(m: EntityManager, tenantId: string, by: string, at: Date): Promise<boolean> {
    return changedOne(
      await m.query(`UPDATE decision.tenant_breakers SET open = false, resumed_at = $3, resumed_by = $2 WHERE tenant_id = $1 AND open RETURNING tenant_id`, [
        tenantId,
        by,
        at,
      ]),
    );
  },
};
