import type { DataSource, EntityManager } from 'typeorm';
import { OWNER_ROLE } from './database-roles.js';
import type { MigrationSql } from './outbox-inbox.migration.js';
import { assertSchemaName } from './schema-name.js';

/**
 * Row-level security per tenant, one way for every service: a transaction names what its
 * credential may see in three transaction-local settings, and a policy on each tenant-scoped table
 * shows it only those rows, whatever a query's own filter says.
 *
 * - `autoheal.tenant_scope = '*'`: every tenant (an ops credential);
 * - `autoheal.tenant_id`: the one tenant the transaction is about (in the credential's scope);
 * - `autoheal.tenant_ids`: the tenants of a credential's list, comma-separated (tenant ids are
 *   subject tokens, `[A-Za-z0-9_-]`, so a comma never occurs in one), for a read across the
 *   tenants in scope (a list of tenants, the breakers).
 *
 * A transaction that sets none of them sees nothing. What this does not stop: a role that can run
 * arbitrary SQL can set the settings itself; the policies guard against a query that forgets its
 * filter, not against SQL injection (the queries are parameterized).
 */
export const TENANT_SETTINGS = {
  scope: 'autoheal.tenant_scope',
  tenantId: 'autoheal.tenant_id',
  tenantIds: 'autoheal.tenant_ids',
} as const;

/** A credential's tenant scope: every tenant, or the listed ones (libs/access's TenantScope). */
export type RowTenantScope = '*' | readonly string[];

/** What the three settings hold for a credential's `scope` and the tenant a transaction is about (null: a read across the scope). */
export function tenantScopeSettings(scope: RowTenantScope, tenantId: string | null): { scope: string; tenantId: string; tenantIds: string } {
  if (scope === '*') return { scope: '*', tenantId: tenantId ?? '', tenantIds: '' };
  if (tenantId !== null) return { scope: '', tenantId: scope.includes(tenantId) ? tenantId : '', tenantIds: '' };
  // Anything that is not a tenant id would widen or break the list: such an entry is left out.
  return { scope: '', tenantId: '', tenantIds: scope.filter((t) => /^[A-Za-z0-9_-]{1,64}$/.test(t)).join(',') };
}

/**
 * Sets the transaction's tenant scope (transaction-local, like SET LOCAL; `manager` must be in a
 * transaction): for a tenant `tenantId`, only if `scope` covers it; for `tenantId` null, every
 * tenant of `scope`.
 */
export async function setTenantScope(manager: EntityManager, scope: RowTenantScope, tenantId: string | null): Promise<void> {
  const s = tenantScopeSettings(scope, tenantId);
  await manager.query(
    `SELECT set_config('${TENANT_SETTINGS.scope}', $1, true), set_config('${TENANT_SETTINGS.tenantId}', $2, true), set_config('${TENANT_SETTINGS.tenantIds}', $3, true)`,
    [s.scope, s.tenantId, s.tenantIds],
  );
}

/** One short transaction on `db`, scoped (row-level security) to `scope` and the tenant it is about. */
export function readInTenantScope<T>(db: DataSource, scope: RowTenantScope, tenantId: string | null, work: (m: EntityManager) => Promise<T>): Promise<T> {
  return db.transaction(async (m) => {
    await setTenantScope(m, scope, tenantId);
    return work(m);
  });
}

/** The USING expression of a tenant read policy over `column` (see TENANT_SETTINGS). */
export function tenantRowPolicySql(column = 'tenant_id'): string {
  const c = assertSchemaName(column);
  return (
    `current_setting('${TENANT_SETTINGS.scope}', true) = '*'` +
    ` OR ${c} = current_setting('${TENANT_SETTINGS.tenantId}', true)` +
    ` OR ${c} = ANY (string_to_array(nullif(current_setting('${TENANT_SETTINGS.tenantIds}', true), ''), ','))`
  );
}

/** Fails a migration, naming the role and how to create it, when a login role it grants to is missing. */
export function requireRoleSql(role: string): string {
  const r = assertSchemaName(role);
  return `
    DO $$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${r}') THEN
        RAISE EXCEPTION 'role ${r} does not exist: create it before migrating (deploy/README.md, or node tools/infra/postgres-roles.js ensure <admin URL>)';
      END IF;
    END
    $$`;
}

export interface TenantReadIsolation {
  schema: string;
  /** The SELECT-only login role an API reads through. */
  reader: string;
  /** Tenant-scoped tables (a `tenant_id` column) the reader may SELECT, under row-level security. */
  tenantTables: readonly string[];
  /** Tables without a tenant (global state) the reader may SELECT whole. */
  sharedTables?: readonly string[];
  /**
   * Roles that see and change every row of the tenant tables (a service whose background work
   * spans tenants). Every other role but the owner sees nothing of them.
   */
  unrestricted?: readonly string[];
  /** Roles held by the tenant read policy like the reader (the auditor's own role, say). */
  alsoScoped?: readonly string[];
}

/**
 * A read role for an API, for a migration: USAGE on the schema and SELECT on the listed tables,
 * nothing else; row-level security on each tenant table, with the tenant read policy for the
 * reader (and `alsoScoped`), a permissive policy for `unrestricted` and for the owner (who is not
 * FORCEd, but a table some other user owns would otherwise hide rows from it).
 */
export function tenantReadIsolationSql(options: TenantReadIsolation): MigrationSql {
  const s = assertSchemaName(options.schema);
  const reader = assertSchemaName(options.reader);
  const tenantTables = options.tenantTables.map((t) => assertSchemaName(t));
  const shared = (options.sharedTables ?? []).map((t) => assertSchemaName(t));
  const unrestricted = (options.unrestricted ?? []).map((r) => assertSchemaName(r));
  const scoped = [reader, ...(options.alsoScoped ?? []).map((r) => assertSchemaName(r))];
  const all = [...tenantTables, ...shared].map((t) => `${s}.${t}`).join(', ');
  const up = [requireRoleSql(reader), `GRANT USAGE ON SCHEMA ${s} TO ${reader}`, `GRANT SELECT ON ${all} TO ${reader}`];
  const down: string[] = [];
  for (const t of tenantTables) {
    up.push(
      `ALTER TABLE ${s}.${t} ENABLE ROW LEVEL SECURITY`,
      `CREATE POLICY ${t}_owner ON ${s}.${t} TO ${OWNER_ROLE} USING (true) WITH CHECK (true)`,
      `CREATE POLICY ${t}_tenant_read ON ${s}.${t} FOR SELECT TO ${scoped.join(', ')} USING (${tenantRowPolicySql()})`,
      ...(unrestricted.length > 0 ? [`CREATE POLICY ${t}_unrestricted ON ${s}.${t} TO ${unrestricted.join(', ')} USING (true) WITH CHECK (true)`] : []),
    );
    down.push(
      ...(unrestricted.length > 0 ? [`DROP POLICY ${t}_unrestricted ON ${s}.${t}`] : []),
      `DROP POLICY ${t}_tenant_read ON ${s}.${t}`,
      `DROP POLICY ${t}_owner ON ${s}.${t}`,
      `ALTER TABLE ${s}.${t} DISABLE ROW LEVEL SECURITY`,
    );
  }
  down.push(`REVOKE ALL ON ${all} FROM ${reader}`, `REVOKE USAGE ON SCHEMA ${s} FROM ${reader}`);
  return { up, down };
}
