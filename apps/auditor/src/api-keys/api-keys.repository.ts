import type { EntityManager } from 'typeorm';
import type { Role, TenantScope } from '@autoheal/access';

export type ApiKeyOrigin = 'env' | 'cli' | 'api';

/** A stored key: everything but its secret (only its sha256 is kept). */
export interface ApiKeyRow {
  id: string;
  keyHash: string;
  subject: string;
  roles: Role[];
  tenantScope: TenantScope;
  label: string;
  origin: ApiKeyOrigin;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export type NewApiKey = Omit<ApiKeyRow, 'createdAt' | 'revokedAt'>;

interface Record {
  id: string;
  key_hash: string;
  subject: string;
  roles: Role[];
  tenant_scope: string[] | null;
  label: string;
  origin: ApiKeyOrigin;
  created_by: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = 'id, key_hash, subject, roles, tenant_scope, label, origin, created_by, created_at, expires_at, revoked_at';

function toRow(r: Record): ApiKeyRow {
  return {
    id: r.id,
    keyHash: r.key_hash,
    subject: r.subject,
    roles: r.roles,
    tenantScope: r.tenant_scope ?? '*',
    label: r.label,
    origin: r.origin,
    createdBy: r.created_by,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
  };
}

/** TypeORM returns [rows, affected] for UPDATE … RETURNING on Postgres. */
type UpdateResult = [Record[], number];

/** The only SQL of API keys. The service's role may insert keys and set revoked_at / expires_at. */
export const apiKeysRepository = {
  async findByHash(manager: EntityManager, keyHash: string): Promise<ApiKeyRow | null> {
    const rows: Record[] = await manager.query(`SELECT ${COLUMNS} FROM auditor.api_keys WHERE key_hash = $1`, [keyHash]);
    return rows.length ? toRow(rows[0]) : null;
  },

  /** Locks the key's row for the caller's transaction (a revoke and an expire never interleave). */
  async findByIdForUpdate(manager: EntityManager, id: string): Promise<ApiKeyRow | null> {
    const rows: Record[] = await manager.query(`SELECT ${COLUMNS} FROM auditor.api_keys WHERE id = $1 FOR UPDATE`, [id]);
    return rows.length ? toRow(rows[0]) : null;
  },

  async insert(manager: EntityManager, key: NewApiKey): Promise<ApiKeyRow> {
    const rows: Record[] = await manager.query(
      `INSERT INTO auditor.api_keys (id, key_hash, subject, roles, tenant_scope, label, origin, created_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
      [key.id, key.keyHash, key.subject, key.roles, key.tenantScope === '*' ? null : key.tenantScope, key.label, key.origin, key.createdBy, key.expiresAt],
    );
    return toRow(rows[0]);
  },

  async setRevoked(manager: EntityManager, id: string, at: Date): Promise<ApiKeyRow> {
    const [rows]: UpdateResult = await manager.query(`UPDATE auditor.api_keys SET revoked_at = $2 WHERE id = $1 RETURNING ${COLUMNS}`, [id, at]);
    return toRow(rows[0]);
  },

  async setExpiry(manager: EntityManager, id: string, at: Date): Promise<ApiKeyRow> {
    const [rows]: UpdateResult = await manager.query(`UPDATE auditor.api_keys SET expires_at = $2 WHERE id = $1 RETURNING ${COLUMNS}`, [id, at]);
    return toRow(rows[0]);
  },

  /** One page ordered by id (stable under inserts); `after` is the last id of the previous page. */
  async page(manager: EntityManager, after: string | undefined, limit: number): Promise<ApiKeyRow[]> {
    const rows: Record[] = await manager.query(`SELECT ${COLUMNS} FROM auditor.api_keys WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2`, [after ?? null, limit]);
    return rows.map(toRow);
  },

  /** Keys neither revoked nor expired at `now`: what the API_KEYS bucket must hold. */
  async active(manager: EntityManager, now: Date): Promise<ApiKeyRow[]> {
    const rows: Record[] = await manager.query(
      `SELECT ${COLUMNS} FROM auditor.api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1) ORDER BY id`,
      [now],
    );
    return rows.map(toRow);
  },
};
