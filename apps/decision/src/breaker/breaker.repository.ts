import type { EntityManager } from 'typeorm';

export interface BreakerState {
  open: boolean;
  reason: string | null;
  openedAt: Date | null;
  resumedAt: Date | null;
  resumedBy: string | null;
}

/**
 * One-key advisory lock for the global breaker. Decisions hold it shared for their whole
 * transaction; opening or resuming holds it exclusively. So a decision either commits before
 * the breaker opens or starts after it and sees it open: none slips through in between.
 */
const BREAKER_LOCK = 0x62726b72;

/** The only SQL about the breaker. */
export const breakerRepository = {
  async lockShared(m: EntityManager): Promise<void> {
    await m.query(`SELECT pg_advisory_xact_lock_shared($1::bigint)`, [BREAKER_LOCK]);
  },

  async lockExclusive(m: EntityManager): Promise<void> {
    await m.query(`SELECT pg_advisory_xact_lock($1::bigint)`, [BREAKER_LOCK]);
  },

  async read(m: EntityManager): Promise<BreakerState> {
    const [row]: { open: boolean; reason: string | null; opened_at: Date | null; resumed_at: Date | null; resumed_by: string | null }[] = await m.query(
      `SELECT open, reason, opened_at, resumed_at, resumed_by FROM decision.breaker WHERE id = 1`,
    );
    return { open: row.open, reason: row.reason, openedAt: row.opened_at, resumedAt: row.resumed_at, resumedBy: row.resumed_by };
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
