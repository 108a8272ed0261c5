import type { MigrationInterface, QueryRunner } from 'typeorm';
import { outboxInboxMigrationSql } from '@autoheal/persistence';

export class AuditorInitial1763700000000 implements MigrationInterface {
  name = 'AuditorInitial1763700000000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of outboxInboxMigrationSql('auditor').up) await q.query(sql);

    await q.query(`
      CREATE TABLE auditor.audit_log (
        tenant_id      text        NOT NULL,
        seq            bigint      NOT NULL CHECK (seq >= 1),
        event_id       text        NOT NULL UNIQUE,
        event_type     text        NOT NULL,
        occurred_at    timestamptz NOT NULL,
        recorded_at    timestamptz NOT NULL,
        actor          text        NOT NULL,
        action         text        NOT NULL,
        resource       jsonb       NOT NULL,
        outcome        text        NOT NULL CHECK (outcome IN ('success', 'failure', 'refused', 'info')),
        source         text        NOT NULL,
        correlation_id text,
        causation_id   text,
        trace_id       text,
        payload        jsonb       NOT NULL,
        prev_hash      text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
        hash           text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
        PRIMARY KEY (tenant_id, seq)
      )`);
    await q.query(`CREATE INDEX audit_log_type_idx ON auditor.audit_log (tenant_id, event_type, seq)`);
    await q.query(`CREATE INDEX audit_log_correlation_idx ON auditor.audit_log (tenant_id, correlation_id, seq) WHERE correlation_id IS NOT NULL`);
    await q.query(`CREATE INDEX audit_log_occurred_idx ON auditor.audit_log (tenant_id, occurred_at)`);

    // Append-only whatever the role: privileges alone would not stop the table owner or a
    // superuser. Ordinary (not ALWAYS) triggers, so a superuser who deliberately sets
    // session_replication_role = replica can still get past them — which is what the chain
    // verification exists to expose.
    await q.query(`
      CREATE FUNCTION auditor.audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '%.% is append-only: % is not allowed', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
    await q.query(`
      CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON auditor.audit_log
      FOR EACH ROW EXECUTE FUNCTION auditor.audit_log_refuse_change()`);
    await q.query(`
      CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON auditor.audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION auditor.audit_log_refuse_change()`);

    await q.query(`
      CREATE TABLE auditor.api_keys (
        id           text PRIMARY KEY,
        key_hash     text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
        scope        text NOT NULL CHECK (scope IN ('ops', 'tenant')),
        tenant_id    text,
        label        text NOT NULL,
        origin       text NOT NULL CHECK (origin IN ('env', 'cli')),
        created_at   timestamptz NOT NULL DEFAULT now(),
        revoked_at   timestamptz,
        CHECK ((scope = 'ops' AND tenant_id IS NULL) OR (scope = 'tenant' AND tenant_id IS NOT NULL))
      )`);

    // Rights: granted to the service's own login role by AuditorAppendFunction1765000000000.
    // This migration used to create a NOLOGIN role `autoheal_auditor_app` here and grant it
    // INSERT on the log; a migration run as the owner role may not create roles, and the later
    // migration takes those grants away where they were made.
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE auditor.api_keys');
    await q.query('DROP TABLE auditor.audit_log');
    await q.query('DROP FUNCTION auditor.audit_log_refuse_change()');
    for (const sql of outboxInboxMigrationSql('auditor').down) await q.query(sql);
  }
}
