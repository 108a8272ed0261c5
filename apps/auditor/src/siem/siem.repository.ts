import type { EntityManager } from 'typeorm';
import type { ChainedRow } from '@autoheal/evidence';
import { auditLogRepository } from '../audit-log/audit-log.repository.js';
import type { TenantPosition } from './siem-batch.js';

/**
 * The forwarder's SQL: where each tenant's chain and cursor stand, the rows after a cursor, and
 * moving a cursor. Reads of the log need the transaction's tenant scope set to every tenant
 * (row-level security holds the service role too): `readScope` does it.
 */
export const siemRepository = {
  /** Every tenant's rows are visible to this transaction (the forwarder works across tenants). */
  async readScope(manager: EntityManager): Promise<void> {
    await auditLogRepository.setScope(manager, { kind: 'all' }, '');
  },

  /**
   * Only one forwarder per destination at a time (several auditor replicas): a session lock on
   * the connection the forwarder keeps. The two-key form, whose key space the append function's
   * `pg_advisory_xact_lock(hashtext('autoheal.audit_log'), …)` shares, with a first key of its own.
   */
  async tryLock(manager: EntityManager, destination: string): Promise<boolean> {
    const rows: { locked: boolean }[] = await manager.query(`SELECT pg_try_advisory_lock(hashtext('autoheal.siem'), hashtext($1)) AS locked`, [destination]);
    return rows[0]?.locked === true;
  },

  /**
   * Each tenant's head, cursor and the recorded time of its first unforwarded row. Tenants are
   * found by a skip scan of the primary key (one index probe per tenant, not a scan of the log).
   */
  async positions(manager: EntityManager, destination: string): Promise<TenantPosition[]> {
    const rows: { tenant_id: string; head_seq: string; cursor_seq: string | null; oldest_pending_at: Date | null }[] = await manager.query(
      `WITH RECURSIVE tenants AS (
         (SELECT tenant_id FROM auditor.audit_log ORDER BY tenant_id LIMIT 1)
         UNION ALL
         SELECT (SELECT l.tenant_id FROM auditor.audit_log l WHERE l.tenant_id > t.tenant_id ORDER BY l.tenant_id LIMIT 1)
           FROM tenants t WHERE t.tenant_id IS NOT NULL
       )
       SELECT t.tenant_id,
              (SELECT max(seq) FROM auditor.audit_log h WHERE h.tenant_id = t.tenant_id) AS head_seq,
              c.seq AS cursor_seq,
              (SELECT p.recorded_at FROM auditor.audit_log p WHERE p.tenant_id = t.tenant_id AND p.seq = coalesce(c.seq, 0) + 1) AS oldest_pending_at
         FROM tenants t LEFT JOIN auditor.siem_cursors c ON c.destination = $1 AND c.tenant_id = t.tenant_id
        WHERE t.tenant_id IS NOT NULL`,
      [destination],
    );
    return rows.map((r) => ({ tenantId: r.tenant_id, headSeq: Number(r.head_seq), cursorSeq: Number(r.cursor_seq ?? 0), oldestPendingAt: r.oldest_pending_at }));
  },

  /** Up to `limit` rows of one tenant after `afterSeq`, in seq order. */
  rowsAfter(manager: EntityManager, tenantId: string, afterSeq: number, limit: number): Promise<ChainedRow[]> {
    return auditLogRepository.list(manager, tenantId, { afterSeq, limit: limit - 1 });
  },

  /** Moves cursors forward (never back: a late or duplicate confirmation cannot undo a newer one). */
  async advance(manager: EntityManager, destination: string, cursors: ReadonlyMap<string, number>, at: Date): Promise<void> {
    if (cursors.size === 0) return;
    await manager.query(
      `INSERT INTO auditor.siem_cursors (destination, tenant_id, seq, forwarded_at)
       SELECT $1, t, s, $4 FROM unnest($2::text[], $3::bigint[]) AS u(t, s)
       ON CONFLICT (destination, tenant_id) DO UPDATE SET seq = GREATEST(siem_cursors.seq, EXCLUDED.seq), forwarded_at = EXCLUDED.forwarded_at`,
      [destination, [...cursors.keys()], [...cursors.values()], at],
    );
  },
};
