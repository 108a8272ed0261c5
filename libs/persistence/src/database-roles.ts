import { assertSchemaName } from './schema-name.js';
import type { MigrationSql } from './outbox-inbox.migration.js';

/**
 * The Postgres roles autoheal runs as (created by `tools/infra/postgres-roles.js` in development
 * and tests, by the database administrator in production; see deploy/README.md):
 * the owner owns every service schema and runs the migrations; each service logs in as its own
 * role, which its migrations grant rights on its own schema and nothing else.
 */
export const OWNER_ROLE = 'autoheal_owner';

export const SERVICE_ROLES = {
  detector: 'autoheal_detector',
  decision: 'autoheal_decision',
  executor: 'autoheal_executor',
  auditor: 'autoheal_auditor',
} as const;

export type ServiceName = keyof typeof SERVICE_ROLES;

/**
 * Login roles that read on a service's behalf: the auditor's REST API reads the audit log as
 * `autoheal_auditor_reader`, the decision service's admin API its tenant tables as
 * `autoheal_decision_reader` (SELECT only, row-level security per tenant), never as the role that writes.
 */
export const READER_ROLES = {
  auditorReader: 'autoheal_auditor_reader',
  decisionReader: 'autoheal_decision_reader',
} as const;

/** TypeORM's bookkeeping table in each service schema (see createDataSource). */
export const MIGRATIONS_TABLE = 'migrations';

/**
 * Functions the owner creates from now on are callable by nobody until granted (Postgres grants
 * EXECUTE to PUBLIC by default). One row for the whole database, which every service's migration
 * sets: they may run at once, so each waits for the others (in its own transaction).
 */
export const NO_PUBLIC_EXECUTE = [
  `SELECT pg_advisory_xact_lock(hashtext('autoheal.default_privileges'))`,
  `ALTER DEFAULT PRIVILEGES FOR ROLE ${OWNER_ROLE} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC`,
];

/**
 * The grants a service's runtime role needs on its own schema, for a migration: reading and
 * changing rows of every table (now and, through default privileges, those later migrations of
 * the owner create), using its sequences; nothing that changes the schema itself (no CREATE, no
 * TRUNCATE, no TRIGGER, no REFERENCES), and no function anyone may call unless granted.
 * `appendOnlyTables` are append-only: INSERT and SELECT there, never UPDATE or DELETE.
 */
export function runtimeRoleGrantsSql(schema: string, role: string, options: { appendOnlyTables?: string[] } = {}): MigrationSql {
  const s = assertSchemaName(schema);
  const r = assertSchemaName(role);
  const appendOnly = (options.appendOnlyTables ?? []).map((t) => `"${s}"."${assertSchemaName(t)}"`);
  return {
    up: [
      `REVOKE ALL ON SCHEMA "${s}" FROM PUBLIC`,
      `GRANT USAGE ON SCHEMA "${s}" TO ${r}`,
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${s}" TO ${r}`,
      `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "${s}" TO ${r}`,
      // The migrations' own bookkeeping is the owner's alone.
      `REVOKE ALL ON "${s}".${MIGRATIONS_TABLE}, "${s}".${MIGRATIONS_TABLE}_id_seq FROM ${r}`,
      `REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA "${s}" FROM PUBLIC`,
      ...appendOnly.map((t) => `REVOKE UPDATE, DELETE ON ${t} FROM ${r}`),
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${OWNER_ROLE} IN SCHEMA "${s}" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${r}`,
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${OWNER_ROLE} IN SCHEMA "${s}" GRANT USAGE, SELECT ON SEQUENCES TO ${r}`,
      // Per schema, default privileges can only add: this one is database-wide, and stays on the way down.
      ...NO_PUBLIC_EXECUTE,
    ],
    down: [
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${OWNER_ROLE} IN SCHEMA "${s}" REVOKE ALL ON SEQUENCES FROM ${r}`,
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${OWNER_ROLE} IN SCHEMA "${s}" REVOKE ALL ON TABLES FROM ${r}`,
      `GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA "${s}" TO PUBLIC`,
      `REVOKE ALL ON ALL SEQUENCES IN SCHEMA "${s}" FROM ${r}`,
      `REVOKE ALL ON ALL TABLES IN SCHEMA "${s}" FROM ${r}`,
      `REVOKE USAGE ON SCHEMA "${s}" FROM ${r}`,
    ],
  };
}
