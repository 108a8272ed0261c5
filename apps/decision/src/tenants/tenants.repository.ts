import type { EntityManager } from 'typeorm';
import type { TenantDocument } from '../planning/policy-port.js';

export interface StoredTenant {
  tenantId: string;
  document: TenantDocument;
  policyVersion: string;
  appliedBy: string;
  updatedAt: Date;
}

export interface TenantVersion {
  seq: number;
  tenantId: string;
  version: string;
  previousVersion: string | null;
  document: TenantDocument;
  changes: { path: string; from?: unknown; to?: unknown }[];
  appliedAt: Date;
  appliedBy: string;
}

export interface RawTenant {
  tenant_id: string;
  document: TenantDocument | null;
  policy_version: string;
  applied_by: string | null;
  updated_at: Date;
}

interface RawVersion {
  seq: string;
  tenant_id: string;
  version: string;
  previous_version: string | null;
  document: TenantDocument;
  changes: TenantVersion['changes'];
  applied_at: Date;
  applied_by: string;
}

/** Tenants stored before documents existed carry only a profile; they have no document yet. */
export function tenantFromRaw(r: RawTenant): StoredTenant | null {
  if (!r.document) return null;
  return { tenantId: r.tenant_id, document: r.document, policyVersion: r.policy_version, appliedBy: r.applied_by ?? 'unknown', updatedAt: r.updated_at };
}

function versionFromRaw(r: RawVersion): TenantVersion {
  return {
    seq: Number(r.seq),
    tenantId: r.tenant_id,
    version: r.version,
    previousVersion: r.previous_version,
    document: r.document,
    changes: r.changes,
    appliedAt: r.applied_at,
    appliedBy: r.applied_by,
  };
}

/** Advisory-lock class for "one tenant's document"; separate from the decision lock class. */
const TENANT_DOCUMENT_LOCK = 0x74646f63;

/** The only SQL about tenants. */
export const tenantsRepository = {
  /** Serialises applies of one tenant's document across processes until the transaction ends. */
  async lockDocument(m: EntityManager, tenantId: string): Promise<void> {
    await m.query(`SELECT pg_advisory_xact_lock($1::int, hashtext($2))`, [TENANT_DOCUMENT_LOCK, tenantId]);
  },

  async find(m: EntityManager, tenantId: string): Promise<StoredTenant | null> {
    const rows: RawTenant[] = await m.query(`SELECT tenant_id, document, policy_version, applied_by, updated_at FROM decision.tenants WHERE tenant_id = $1`, [tenantId]);
    return rows[0] ? tenantFromRaw(rows[0]) : null;
  },

  /** Every tenant with a document: those whose automatic actions the global breaker stops. */
  async tenantIds(m: EntityManager): Promise<string[]> {
    const rows: { tenant_id: string }[] = await m.query(`SELECT tenant_id FROM decision.tenants WHERE document IS NOT NULL ORDER BY tenant_id`);
    return rows.map((r) => r.tenant_id);
  },

  async list(m: EntityManager): Promise<StoredTenant[]> {
    const rows: RawTenant[] = await m.query(`SELECT tenant_id, document, policy_version, applied_by, updated_at FROM decision.tenants ORDER BY tenant_id`);
    return rows.map(tenantFromRaw).filter((t): t is StoredTenant => t !== null);
  },

  /** Makes `version` the tenant's current document and appends it to the history. */
  async apply(m: EntityManager, v: Omit<TenantVersion, 'seq'>, profile: unknown): Promise<void> {
    await m.query(
      `INSERT INTO decision.tenants (tenant_id, profile, policy_version, document, applied_by, updated_at)
       VALUES ($1, $2::jsonb, $3, $4::jsonb, $5, $6)
       ON CONFLICT (tenant_id) DO UPDATE
         SET profile = EXCLUDED.profile, policy_version = EXCLUDED.policy_version, document = EXCLUDED.document,
             applied_by = EXCLUDED.applied_by, updated_at = EXCLUDED.updated_at`,
      [v.tenantId, JSON.stringify(profile), v.version, JSON.stringify(v.document), v.appliedBy, v.appliedAt],
    );
    await m.query(
      `INSERT INTO decision.tenant_versions (tenant_id, version, previous_version, document, changes, applied_at, applied_by)
       VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7)`,
      [v.tenantId, v.version, v.previousVersion, JSON.stringify(v.document), JSON.stringify(v.changes), v.appliedAt, v.appliedBy],
    );
  },

  /** Newest first; `before` is the seq to page from (exclusive). */
  async versions(m: EntityManager, tenantId: string, page: { limit: number; before?: number }): Promise<TenantVersion[]> {
    const rows: RawVersion[] = await m.query(
      `SELECT seq, tenant_id, version, previous_version, document, changes, applied_at, applied_by FROM decision.tenant_versions
       WHERE tenant_id = $1 AND ($2::bigint IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3`,
      [tenantId, page.before ?? null, page.limit],
    );
    return rows.map(versionFromRaw);
  },

  /** The newest stored document with that version (a version may be applied more than once). */
  async findVersion(m: EntityManager, tenantId: string, version: string): Promise<TenantVersion | null> {
    const rows: RawVersion[] = await m.query(
      `SELECT seq, tenant_id, version, previous_version, document, changes, applied_at, applied_by FROM decision.tenant_versions
       WHERE tenant_id = $1 AND version = $2 ORDER BY seq DESC LIMIT 1`,
      [tenantId, version],
    );
    return rows[0] ? versionFromRaw(rows[0]) : null;
  },
};
