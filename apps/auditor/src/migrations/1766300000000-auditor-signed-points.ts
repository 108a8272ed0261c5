import type { MigrationInterface, QueryRunner } from 'typeorm';
import { OWNER_ROLE, READER_ROLES, SERVICE_ROLES } from '@autoheal/persistence';
import { TENANT_ROW_POLICY } from './1766200000000-auditor-read-isolation.js';

const WRITER = SERVICE_ROLES.auditor;
const READER = READER_ROLES.auditorReader;

const POINT_COLUMNS = `
  tenant_id  text        NOT NULL,
  seq        bigint      NOT NULL CHECK (seq >= 1),
  head_hash  text        NOT NULL CHECK (head_hash ~ '^[0-9a-f]{64}$'),
  signed_at  timestamptz NOT NULL,
  key_id     text        NOT NULL,
  signature  text        NOT NULL,
  PRIMARY KEY (tenant_id, seq)`;

/**
 * What the auditor signs (@autoheal/evidence signed-point.ts), kept beside the log:
 *
 * - `audit_seals`: the auditor's Ed25519 signature over each row it appends (tenant, seq, hash),
 *   written in the append's transaction. A row without a valid seal was not appended by the
 *   auditor, however well it is chained.
 * - `checkpoints`: the chain's head, signed on a cadence and on demand; each is also published to
 *   the AUDIT_CHECKPOINTS stream and written to the file sink, where the database cannot reach.
 * - `signing_keys`: every public key the auditor has signed with (the key history; rotation adds
 *   a row). Not trusted by itself: verification takes keys from the trust file and the stream.
 *
 * All three are append-only like the log (the same triggers, whatever the role). The service role
 * may SELECT and INSERT; the reader role SELECT; row-level security as on the log. Seals are
 * inserted in the append's transaction, which, like the append function, names no tenant scope:
 * the service role may insert a seal for any tenant (it may append to any tenant's chain anyway).
 */
export class AuditorSignedPoints1766300000000 implements MigrationInterface {
  name = 'AuditorSignedPoints1766300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE auditor.audit_seals (${POINT_COLUMNS})`);
    await q.query(`CREATE TABLE auditor.checkpoints (${POINT_COLUMNS})`);
    await q.query(`
      CREATE TABLE auditor.signing_keys (
        key_id        text        PRIMARY KEY CHECK (key_id ~ '^ed25519:[A-Za-z0-9_-]+$'),
        public_key    text        NOT NULL,
        first_used_at timestamptz NOT NULL
      )`);
    for (const table of TABLES) {
      await q.query(`CREATE TRIGGER ${table}_no_update_delete BEFORE UPDATE OR DELETE ON auditor.${table} FOR EACH ROW EXECUTE FUNCTION auditor.audit_log_refuse_change()`);
      await q.query(`CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON auditor.${table} FOR EACH STATEMENT EXECUTE FUNCTION auditor.audit_log_refuse_change()`);
      await q.query(`GRANT SELECT, INSERT ON auditor.${table} TO ${WRITER}`);
      await q.query(`GRANT SELECT ON auditor.${table} TO ${READER}`);
    }
    for (const table of ['audit_seals', 'checkpoints']) {
      await q.query(`ALTER TABLE auditor.${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`CREATE POLICY ${table}_owner ON auditor.${table} TO ${OWNER_ROLE} USING (true) WITH CHECK (true)`);
      await q.query(`CREATE POLICY ${table}_tenant_read ON auditor.${table} FOR SELECT TO ${READER}, ${WRITER} USING (${TENANT_ROW_POLICY})`);
    }
    await q.query(`CREATE POLICY audit_seals_insert ON auditor.audit_seals FOR INSERT TO ${WRITER} WITH CHECK (true)`);
    await q.query(`CREATE POLICY checkpoints_tenant_insert ON auditor.checkpoints FOR INSERT TO ${WRITER} WITH CHECK (${TENANT_ROW_POLICY})`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [...TABLES].reverse()) await q.query(`DROP TABLE auditor.${table}`);
  }
}

const TABLES = ['audit_seals', 'checkpoints', 'signing_keys'] as const;
