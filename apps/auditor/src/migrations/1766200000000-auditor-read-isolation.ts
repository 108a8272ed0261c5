import type { MigrationInterface, QueryRunner } from 'typeorm';
import { OWNER_ROLE, READER_ROLES, SERVICE_ROLES } from '@autoheal/persistence';

const WRITER = SERVICE_ROLES.auditor;
const READER = READER_ROLES.auditorReader;

/**
 * The rows a transaction may see: the tenant its credential names (`autoheal.tenant_id`), or every
 * tenant when the credential is an ops one (`autoheal.tenant_scope = '*'`). Both are set by the
 * service per transaction (`set_config(…, true)`), so a query that forgets its tenant filter still
 * returns nothing of another tenant; a transaction that sets neither sees nothing at all.
 */
export const TENANT_ROW_POLICY = `current_setting('autoheal.tenant_scope', true) = '*' OR tenant_id = current_setting('autoheal.tenant_id', true)`;

/**
 * Reads never stall writes, and a read sees only its tenant.
 *
 * - `verify_points`: the last point of each tenant's chain that a verification found intact
 *   (seq and hash), so the next verification reads only what came after, and when the chain was
 *   last verified whole (`full_verified_at`), so that it is again once that is too old. The
 *   service role writes it; it is not part of the append-only log.
 * - `autoheal_auditor_reader`: the role the REST API's own small pool logs in as, SELECT on the
 *   log and the verified points and nothing else (no api_keys, no inbox, no function).
 * - Row-level security on both tables, for the reader and the service role alike. The owner (who
 *   owns the tables, and runs `append_audit_entry` as SECURITY DEFINER) is not FORCEd, and has a
 *   policy of its own so that a table some other user owns still lets the append function see the
 *   whole chain.
 */
export class AuditorReadIsolation1766200000000 implements MigrationInterface {
  name = 'AuditorReadIsolation1766200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${READER}') THEN
          RAISE EXCEPTION 'role ${READER} does not exist: create it before migrating (deploy/README.md, or node tools/infra/postgres-roles.js ensure <admin URL>)';
        END IF;
      END
      $$`);

    await q.query(`
      CREATE TABLE auditor.verify_points (
        tenant_id   text        PRIMARY KEY,
        seq         bigint      NOT NULL CHECK (seq >= 1),
        hash        text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
        verified_at timestamptz NOT NULL,
        full_verified_at timestamptz NOT NULL
      )`);

    await q.query(`GRANT SELECT, INSERT, UPDATE ON auditor.verify_points TO ${WRITER}`);
    await q.query(`GRANT USAGE ON SCHEMA auditor TO ${READER}`);
    await q.query(`GRANT SELECT ON auditor.audit_log, auditor.verify_points TO ${READER}`);

    for (const table of ['audit_log', 'verify_points']) {
      await q.query(`ALTER TABLE auditor.${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`CREATE POLICY ${table}_owner ON auditor.${table} TO ${OWNER_ROLE} USING (true) WITH CHECK (true)`);
      await q.query(`CREATE POLICY ${table}_tenant_read ON auditor.${table} FOR SELECT TO ${READER}, ${WRITER} USING (${TENANT_ROW_POLICY})`);
    }
    // The service role records verified points, each only in the tenant its transaction names.
    await q.query(`CREATE POLICY verify_points_tenant_insert ON auditor.verify_points FOR INSERT TO ${WRITER} WITH CHECK (${TENANT_ROW_POLICY})`);
    await q.query(
      `CREATE POLICY verify_points_tenant_update ON auditor.verify_points FOR UPDATE TO ${WRITER} USING (${TENANT_ROW_POLICY}) WITH CHECK (${TENANT_ROW_POLICY})`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP POLICY audit_log_tenant_read ON auditor.audit_log`);
    await q.query(`DROP POLICY audit_log_owner ON auditor.audit_log`);
    await q.query(`ALTER TABLE auditor.audit_log DISABLE ROW LEVEL SECURITY`);
    await q.query(`REVOKE ALL ON auditor.audit_log FROM ${READER}`);
    await q.query(`REVOKE USAGE ON SCHEMA auditor FROM ${READER}`);
    await q.query(`DROP TABLE auditor.verify_points`);
  }
}
