import type { EntityManager } from 'typeorm';
import type { Tombstone } from '@autoheal/evidence';
import type { PolicyChange } from './retention-policy.js';

export interface PartitionTenant {
  tenantId: string;
  fromSeq: number;
  toSeq: number;
}

export interface ArchiveRecord {
  partition: string;
  tenantId: string;
  fromSeq: number;
  toSeq: number;
  location: string;
  manifestSha256: string;
  archivedAt: Date;
  verifiedAt: Date | null;
  retainUntil: Date;
}

/** The only SQL of retention. Every function runs in the caller's transaction (scoped to every tenant where it reads the log). */
export const retentionRepository = {
  /** Creates the month of `at` and the `months` after it where missing; the names created. */
  async ensurePartitions(manager: EntityManager, at: Date, months: number): Promise<string[]> {
    const rows: { audit_ensure_partitions: string }[] = await manager.query(`SELECT auditor.audit_ensure_partitions($1, $2)`, [at, months]);
    return rows.map((r) => r.audit_ensure_partitions);
  },

  async partitions(manager: EntityManager): Promise<string[]> {
    const rows: { name: string }[] = await manager.query(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'auditor.audit_log'::regclass ORDER BY c.relname`,
    );
    return rows.map((r) => r.name);
  },

  /** Each tenant with rows recorded in [from, to) and its seq range there (through the parent: row-level security applies). */
  async tenantsIn(manager: EntityManager, from: Date, to: Date): Promise<PartitionTenant[]> {
    const rows: { tenant_id: string; from_seq: string; to_seq: string }[] = await manager.query(
      `SELECT tenant_id, min(seq) AS from_seq, max(seq) AS to_seq FROM auditor.audit_log WHERE recorded_at >= $1 AND recorded_at < $2 GROUP BY tenant_id ORDER BY tenant_id`,
      [from, to],
    );
    return rows.map((r) => ({ tenantId: r.tenant_id, fromSeq: Number(r.from_seq), toSeq: Number(r.to_seq) }));
  },

  /** The changes of each `compliance.policy_changed` row of the tenant still online, in seq order. */
  async policyChanges(manager: EntityManager, tenantId: string): Promise<PolicyChange[][]> {
    const rows: { changes: PolicyChange[] | null }[] = await manager.query(
      `SELECT payload #> '{data,changes}' AS changes FROM auditor.audit_log WHERE tenant_id = $1 AND event_type = 'compliance.policy_changed' ORDER BY seq`,
      [tenantId],
    );
    return rows.map((r) => (Array.isArray(r.changes) ? r.changes : []));
  },

  /** The longest retention (days) an earlier archive of the tenant was held to: kept once the policy rows that set it are gone. */
  async archivedRetention(manager: EntityManager, tenantId: string): Promise<{ retainDays: number; onlineDays: number } | null> {
    const rows: { retain_days: number | null; online_days: number | null }[] = await manager.query(
      `SELECT max(retain_days) AS retain_days, max(online_days) AS online_days FROM auditor.audit_archives WHERE tenant_id = $1`,
      [tenantId],
    );
    return rows[0]?.retain_days == null ? null : { retainDays: rows[0].retain_days, onlineDays: rows[0].online_days ?? 0 };
  },

  async archive(manager: EntityManager, partition: string, tenantId: string): Promise<ArchiveRecord | null> {
    const rows: {
      from_seq: string;
      to_seq: string;
      location: string;
      manifest_sha256: string;
      archived_at: Date;
      verified_at: Date | null;
      retain_until: Date;
    }[] = await manager.query(
      `SELECT from_seq, to_seq, location, manifest_sha256, archived_at, verified_at, retain_until FROM auditor.audit_archives WHERE partition_name = $1 AND tenant_id = $2`,
      [partition, tenantId],
    );
    if (rows.length === 0) return null;
    const r = rows[0];
    return {
      partition,
      tenantId,
      fromSeq: Number(r.from_seq),
      toSeq: Number(r.to_seq),
      location: r.location,
      manifestSha256: r.manifest_sha256,
      archivedAt: r.archived_at,
      verifiedAt: r.verified_at,
      retainUntil: r.retain_until,
    };
  },

  /** Records (or replaces, when written again) a partition's archive for a tenant. */
  async saveArchive(manager: EntityManager, a: ArchiveRecord, retention: { retainDays: number; onlineDays: number }): Promise<void> {
    await manager.query(
      `INSERT INTO auditor.audit_archives (partition_name, tenant_id, from_seq, to_seq, location, manifest_sha256, archived_at, verified_at, retain_until, retain_days, online_days)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (partition_name, tenant_id) DO UPDATE SET from_seq = EXCLUDED.from_seq, to_seq = EXCLUDED.to_seq, location = EXCLUDED.location,
         manifest_sha256 = EXCLUDED.manifest_sha256, archived_at = EXCLUDED.archived_at, verified_at = EXCLUDED.verified_at,
         retain_until = greatest(audit_archives.retain_until, EXCLUDED.retain_until), retain_days = greatest(audit_archives.retain_days, EXCLUDED.retain_days),
         online_days = greatest(audit_archives.online_days, EXCLUDED.online_days)`,
      [a.partition, a.tenantId, a.fromSeq, a.toSeq, a.location, a.manifestSha256, a.archivedAt, a.verifiedAt, a.retainUntil, retention.retainDays, retention.onlineDays],
    );
  },

  async markVerified(manager: EntityManager, partition: string, tenantId: string, verifiedAt: Date | null): Promise<void> {
    await manager.query(`UPDATE auditor.audit_archives SET verified_at = $3 WHERE partition_name = $1 AND tenant_id = $2`, [partition, tenantId, verifiedAt]);
  },

  /** False when the tenant already has a tombstone from that seq (written by an earlier, interrupted run). */
  async insertTombstone(manager: EntityManager, t: Tombstone): Promise<boolean> {
    const inserted: unknown[] = await manager.query(
      `INSERT INTO auditor.audit_tombstones (tenant_id, from_seq, to_seq, hash_before, hash_after, manifest_sha256, partition_name, signed_at, key_id, signature)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (tenant_id, from_seq) DO NOTHING RETURNING from_seq`,
      [t.tenantId, t.fromSeq, t.toSeq, t.hashBefore, t.hashAfter, t.manifestSha256, t.partition, t.signedAt, t.keyId, t.signature],
    );
    return inserted.length === 1;
  },

  /** As the owner only (the function refuses otherwise, and checks archive, retention and tombstones itself): the rows dropped. */
  async dropPartition(manager: EntityManager, partition: string, now: Date): Promise<number> {
    const rows: { audit_drop_partition: string }[] = await manager.query(`SELECT auditor.audit_drop_partition($1, $2)`, [partition, now]);
    return Number(rows[0].audit_drop_partition);
  },
};
