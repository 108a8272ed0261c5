import type { MigrationInterface, QueryRunner } from 'typeorm';
import { outboxInboxMigrationSql } from '@autoheal/persistence';

export class DetectorInitial1763700000000 implements MigrationInterface {
  name = 'DetectorInitial1763700000000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of outboxInboxMigrationSql('detector').up) await q.query(sql);
    await q.query(`
      CREATE TABLE detector.incidents (
        incident_id   uuid PRIMARY KEY,
        tenant_id     text NOT NULL,
        service       text NOT NULL,
        instance      text NOT NULL,
        kind          text NOT NULL,
        severity      text NOT NULL,
        status        text NOT NULL CHECK (status IN ('open', 'resolved')),
        signal_at     timestamptz NOT NULL,
        opened_at     timestamptz NOT NULL,
        resolved_at   timestamptz,
        resolve_reason text,
        evidence      jsonb NOT NULL,
        -- W3C trace context of the detection span, so the resolution joins the incident's trace.
        trace_context jsonb NOT NULL DEFAULT '{}'
      )`);
    // The database itself guarantees one open incident per instance and kind, whatever races above it.
    await q.query(`CREATE UNIQUE INDEX incidents_one_open ON detector.incidents (tenant_id, service, instance, kind) WHERE status = 'open'`);
    await q.query(`
      CREATE TABLE detector.instance_snapshots (
        tenant_id    text NOT NULL,
        service      text NOT NULL,
        instance     text NOT NULL,
        interval_ms  integer NOT NULL,
        last_seen_at timestamptz NOT NULL,
        state        text NOT NULL CHECK (state IN ('alive', 'missing', 'stopped')),
        updated_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, service, instance)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE detector.instance_snapshots');
    await q.query('DROP TABLE detector.incidents');
    for (const sql of outboxInboxMigrationSql('detector').down) await q.query(sql);
  }
}
