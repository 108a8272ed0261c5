import type { EntityManager } from 'typeorm';
import type { TenantProfile } from './tenant-profile.js';

export interface StoredTenant {
  tenantId: string;
  profile: TenantProfile;
  policyVersion: string;
}

/** The only SQL about tenants. */
export const tenantsRepository = {
  /** Inserts new tenants and replaces changed profiles; unchanged rows are not touched. */
  async upsertMany(m: EntityManager, tenants: StoredTenant[]): Promise<void> {
    if (tenants.length === 0) return;
    await m.query(
      `INSERT INTO decision.tenants (tenant_id, profile, policy_version, updated_at)
       SELECT t, p, v, now() FROM unnest($1::text[], $2::jsonb[], $3::text[]) AS u(t, p, v)
       ON CONFLICT (tenant_id) DO UPDATE
         SET profile = EXCLUDED.profile, policy_version = EXCLUDED.policy_version, updated_at = EXCLUDED.updated_at
         WHERE decision.tenants.policy_version IS DISTINCT FROM EXCLUDED.policy_version`,
      [tenants.map((t) => t.tenantId), tenants.map((t) => JSON.stringify(t.profile)), tenants.map((t) => t.policyVersion)],
    );
  },

  async find(m: EntityManager, tenantId: string): Promise<StoredTenant | null> {
    const rows: { tenant_id: string; profile: TenantProfile; policy_version: string }[] = await m.query(
      `SELECT tenant_id, profile, policy_version FROM decision.tenants WHERE tenant_id = $1`,
      [tenantId],
    );
    const row = rows[0];
    return row ? { tenantId: row.tenant_id, profile: row.profile, policyVersion: row.policy_version } : null;
  },
};
