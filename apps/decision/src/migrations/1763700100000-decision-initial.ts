import type { MigrationInterface, QueryRunner } from 'typeorm';
import { outboxInboxMigrationSql } from '@autoheal/persistence';

export class DecisionInitial1763700100000 implements MigrationInterface {
  name = 'DecisionInitial1763700100000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of outboxInboxMigrationSql('decision').up) await q.query(sql);
    await q.query(`
      CREATE TABLE decision.tenants (
        tenant_id      text PRIMARY KEY,
        profile        jsonb NOT NULL,
        -- sha256 of the canonical profile: every decision records the version it was taken under.
        policy_version text NOT NULL,
        updated_at     timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE decision.remediations (
        remediation_id       uuid PRIMARY KEY,
        -- One decision per incident, whatever the number of events or processes that ask.
        incident_id          uuid NOT NULL UNIQUE,
        tenant_id            text NOT NULL,
        service              text NOT NULL,
        instance             text NOT NULL,
        -- The action planned, or the one that was refused; null when the playbook had none.
        action               text,
        status               text NOT NULL CHECK (status IN ('planned', 'escalated', 'succeeded', 'failed')),
        reason               text NOT NULL,
        policy_version       text NOT NULL,
        candidates           jsonb NOT NULL DEFAULT '[]',
        refusal_rule         text,
        incident_event_id    text NOT NULL,
        -- Set only when an automatic action was planned: the hourly cap counts these.
        planned_at           timestamptz,
        decided_at           timestamptz NOT NULL,
        outcome_at           timestamptz,
        outcome_error        jsonb,
        incident_resolved_at timestamptz,
        CHECK ((status = 'escalated') = (planned_at IS NULL))
      )`);
    await q.query(`CREATE INDEX remediations_auto_actions_idx ON decision.remediations (tenant_id, planned_at) WHERE planned_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE decision.remediations');
    await q.query('DROP TABLE decision.tenants');
    for (const sql of outboxInboxMigrationSql('decision').down) await q.query(sql);
  }
}
