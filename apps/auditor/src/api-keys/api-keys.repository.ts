import type { EntityManager } from 'typeorm';
import type { ApiKeyPrincipal, ApiKeyScope } from './api-key.js';

export type ApiKeyOrigin = 'env' | 'cli';

export interface ApiKeyRecord {
  id: string;
  keyHash: string;
  scope: ApiKeyScope;
  tenantId: string | null;
  label: string;
  origin: ApiKeyOrigin;
}

export interface ApiKeyListing extends Omit<ApiKeyRecord, 'keyHash'> {
  createdAt: Date;
  revokedAt: Date | null;
}

/** TypeORM returns [rows, affected] for UPDATE and DELETE on Postgres (plain rows for everything else). */
type UpdateResult = [unknown[], number];

/**
 * The only SQL of API keys. The service only reads (findActiveByHash); the api-keys CLI, run
 * with the owner's URL, writes.
 */
export const apiKeysRepository = {
  async findActiveByHash(manager: EntityManager, keyHash: string): Promise<ApiKeyPrincipal | null> {
    const rows: { id: string; scope: ApiKeyScope; tenant_id: string | null }[] = await manager.query(
      `SELECT id, scope, tenant_id FROM auditor.api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
      [keyHash],
    );
    return rows.length ? { id: rows[0].id, scope: rows[0].scope, tenantId: rows[0].tenant_id } : null;
  },

  /** Adds the key, or brings an existing one (same secret) to this scope and un-revokes it. The CLI's. */
  async upsert(manager: EntityManager, key: ApiKeyRecord): Promise<void> {
    await manager.query(
      `INSERT INTO auditor.api_keys (id, key_hash, scope, tenant_id, label, origin)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (key_hash) DO UPDATE
         SET scope = EXCLUDED.scope, tenant_id = EXCLUDED.tenant_id, label = EXCLUDED.label, origin = EXCLUDED.origin, revoked_at = NULL`,
      [key.id, key.keyHash, key.scope, key.tenantId, key.label, key.origin],
    );
  },

  async revoke(manager: EntityManager, id: string, at: Date): Promise<boolean> {
    const [, affected]: UpdateResult = await manager.query(`UPDATE auditor.api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, [id, at]);
    return affected === 1;
  },

  async list(manager: EntityManager): Promise<ApiKeyListing[]> {
    const rows: { id: string; scope: ApiKeyScope; tenant_id: string | null; label: string; origin: ApiKeyOrigin; created_at: Date; revoked_at: Date | null }[] =
      await manager.query(`SELECT id, scope, tenant_id, label, origin, created_at, revoked_at FROM auditor.api_keys ORDER BY created_at, id`);
    return rows.map((r) => ({ id: r.id, scope: r.scope, tenantId: r.tenant_id, label: r.label, origin: r.origin, createdAt: r.created_at, revokedAt: r.revoked_at }));
  },
};
