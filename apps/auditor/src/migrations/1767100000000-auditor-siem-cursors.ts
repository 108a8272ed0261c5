import type { MigrationInterface, QueryRunner } from 'typeorm';
import { SERVICE_ROLES } from '@autoheal/persistence';

const WRITER = SERVICE_ROLES.auditor;

/**
 * `siem_cursors`: per SIEM destination and tenant, the last seq whose delivery the receiver
 * confirmed (src/siem/). The forwarder resumes after it when it restarts or reconnects, so a row
 * is sent at least once and a tenant's rows in order. The service role reads and moves it; a
 * cursor never moves back (the forwarder's UPDATE says so). Not evidence: losing it means rows are
 * sent again, never that a row is skipped. No row-level security: the forwarder works across every
 * tenant, and the reader role has no right on it.
 */
export class AuditorSiemCursors1767100000000 implements MigrationInterface {
  name = 'AuditorSiemCursors1767100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE auditor.siem_cursors (
        destination  text        NOT NULL CHECK (destination ~ '^[A-Za-z0-9_.:-]{1,128}$'),
        tenant_id    text        NOT NULL,
        seq          bigint      NOT NULL CHECK (seq >= 0),
        forwarded_at timestamptz NOT NULL,
        PRIMARY KEY (destination, tenant_id)
      )`);
    await q.query(`GRANT SELECT, INSERT, UPDATE ON auditor.siem_cursors TO ${WRITER}`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE auditor.siem_cursors`);
  }
}
