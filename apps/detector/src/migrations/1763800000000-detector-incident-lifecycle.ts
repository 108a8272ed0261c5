import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Incidents become one per fingerprint (tenant, service, instance or `*`, kind, rule key) and
 * carry the lifecycle flags; snapshots also hold each instance's rule state, and instances
 * known only from metrics (no heartbeat yet) get a row too.
 */
export class DetectorIncidentLifecycle1763800000000 implements MigrationInterface {
  name = 'DetectorIncidentLifecycle1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE detector.incidents
        ADD COLUMN rule_key        text,
        ADD COLUMN fingerprint     text,
        ADD COLUMN scope           text NOT NULL DEFAULT 'instance' CHECK (scope IN ('instance', 'service')),
        ADD COLUMN flapping        boolean NOT NULL DEFAULT false,
        ADD COLUMN suspected_cause text,
        ADD COLUMN members         jsonb,
        ADD COLUMN updated_at      timestamptz`);
    await q.query(`UPDATE detector.incidents SET rule_key = kind, fingerprint = tenant_id || '.' || service || '.' || instance || '.' || kind || '.' || kind`);
    await q.query(`ALTER TABLE detector.incidents ALTER COLUMN rule_key SET NOT NULL, ALTER COLUMN fingerprint SET NOT NULL`);
    // The database still guarantees one open incident per fingerprint, whatever races above it.
    await q.query(`DROP INDEX detector.incidents_one_open`);
    await q.query(`CREATE UNIQUE INDEX incidents_one_open_per_fingerprint ON detector.incidents (fingerprint) WHERE status = 'open'`);

    await q.query(`
      ALTER TABLE detector.instance_snapshots
        ADD COLUMN rule_state jsonb,
        ALTER COLUMN interval_ms DROP NOT NULL,
        ALTER COLUMN last_seen_at DROP NOT NULL,
        ALTER COLUMN state DROP NOT NULL,
        DROP CONSTRAINT instance_snapshots_state_check,
        ADD CONSTRAINT instance_snapshots_state_check CHECK (state IN ('alive', 'missing', 'stopped', 'exited'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM detector.instance_snapshots WHERE interval_ms IS NULL OR last_seen_at IS NULL OR state IS NULL`);
    await q.query(`UPDATE detector.instance_snapshots SET state = 'stopped' WHERE state = 'exited'`);
    await q.query(`
      ALTER TABLE detector.instance_snapshots
        DROP COLUMN rule_state,
        ALTER COLUMN interval_ms SET NOT NULL,
        ALTER COLUMN last_seen_at SET NOT NULL,
        ALTER COLUMN state SET NOT NULL,
        DROP CONSTRAINT instance_snapshots_state_check,
        ADD CONSTRAINT instance_snapshots_state_check CHECK (state IN ('alive', 'missing', 'stopped'))`);
    await q.query(`DROP INDEX detector.incidents_one_open_per_fingerprint`);
    await q.query(`CREATE UNIQUE INDEX incidents_one_open ON detector.incidents (tenant_id, service, instance, kind) WHERE status = 'open'`);
    await q.query(`
      ALTER TABLE detector.incidents
        DROP COLUMN rule_key, DROP COLUMN fingerprint, DROP COLUMN scope, DROP COLUMN flapping,
        DROP COLUMN suspected_cause, DROP COLUMN members, DROP COLUMN updated_at`);
  }
}
