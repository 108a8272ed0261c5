import type { MigrationInterface, QueryRunner } from 'typeorm';
import { outboxInboxMigrationSql } from '@autoheal/persistence';

export class ExecutorInitial1763700200000 implements MigrationInterface {
  name = 'ExecutorInitial1763700200000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of outboxInboxMigrationSql('executor').up) await q.query(sql);
    await q.query(`
      CREATE TABLE executor.executions (
        -- The fence: one execution per remediation, however often it is delivered.
        remediation_id uuid PRIMARY KEY,
        incident_id    uuid NOT NULL,
        tenant_id      text NOT NULL,
        service        text NOT NULL,
        instance       text NOT NULL,
        action         text NOT NULL,
        -- Which driver carried it out (nats-agent, …).
        driver         text NOT NULL,
        status         text NOT NULL CHECK (status IN ('started', 'succeeded', 'failed')),
        -- How many times the driver was asked; more than one after a crash or an unreachable agent.
        attempts       integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        -- The fencing lease: while it runs, only its holder asks the driver. A holder that
        -- dies lets it run out, and the next delivery takes over.
        lease_until    timestamptz,
        started_at     timestamptz NOT NULL,
        finished_at    timestamptz,
        result         jsonb,
        CHECK ((status = 'started') = (finished_at IS NULL))
      )`);
    await q.query(`CREATE INDEX executions_unfinished_idx ON executor.executions (started_at) WHERE status = 'started'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE executor.executions');
    for (const sql of outboxInboxMigrationSql('executor').down) await q.query(sql);
  }
}
