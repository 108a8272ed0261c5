import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tenants as code (versioned documents), guardrail state (in-flight, cooldown, breaker),
 * approvals, escalation deliveries and the incident facts a backtest replays.
 */
export class DecisionGuardrails1763800000000 implements MigrationInterface {
  name = 'DecisionGuardrails1763800000000';

  async up(q: QueryRunner): Promise<void> {
    // The current document of each tenant; `policy_version` is its content hash (the current pointer).
    await q.query(`ALTER TABLE decision.tenants ADD COLUMN document jsonb, ADD COLUMN applied_by text`);
    await q.query(`
      CREATE TABLE decision.tenant_versions (
        seq              bigserial PRIMARY KEY,
        tenant_id        text NOT NULL,
        version          text NOT NULL,
        previous_version text,
        document         jsonb NOT NULL,
        changes          jsonb NOT NULL DEFAULT '[]',
        applied_at       timestamptz NOT NULL,
        applied_by       text NOT NULL
      )`);
    await q.query(`CREATE INDEX tenant_versions_tenant_idx ON decision.tenant_versions (tenant_id, seq)`);

    await q.query(`ALTER TABLE decision.remediations DROP CONSTRAINT remediations_status_check`);
    await q.query(`ALTER TABLE decision.remediations DROP CONSTRAINT remediations_check`);
    await q.query(`
      ALTER TABLE decision.remediations
        ADD CONSTRAINT remediations_status_check CHECK (status IN
          ('planned', 'dry_run', 'awaiting_approval', 'approved', 'rejected', 'escalated', 'held', 'succeeded', 'failed')),
        -- The incident as the policy saw it (kind, severity, flags, openedAt): what a backtest replays.
        ADD COLUMN incident      jsonb NOT NULL DEFAULT '{}',
        ADD COLUMN opened_at     timestamptz,
        ADD COLUMN suspected_cause text,
        ADD COLUMN decision_kind text,
        ADD COLUMN explanation   jsonb,
        ADD COLUMN fallbacks     jsonb NOT NULL DEFAULT '[]',
        ADD COLUMN emergency     boolean NOT NULL DEFAULT false,
        ADD COLUMN expires_at    timestamptz,
        ADD COLUMN reviewed_by   text,
        ADD COLUMN reviewed_at   timestamptz,
        ADD COLUMN ttr_at_risk_at timestamptz,
        ADD COLUMN breach_at     timestamptz`);
    // Per-target cooldown and per-service concurrency read these under the tenant lock.
    await q.query(`CREATE INDEX remediations_target_idx ON decision.remediations (tenant_id, service, instance, planned_at) WHERE planned_at IS NOT NULL`);
    await q.query(`CREATE INDEX remediations_in_flight_idx ON decision.remediations (tenant_id, service) WHERE status IN ('planned', 'awaiting_approval', 'approved')`);
    await q.query(`CREATE INDEX remediations_opened_idx ON decision.remediations (opened_at)`);
    await q.query(`CREATE INDEX remediations_expiry_idx ON decision.remediations (expires_at) WHERE status = 'awaiting_approval'`);

    // One global breaker. It opens automatically and closes only when a human resumes it.
    await q.query(`
      CREATE TABLE decision.breaker (
        id          int PRIMARY KEY CHECK (id = 1),
        open        boolean NOT NULL,
        reason      text,
        opened_at   timestamptz,
        resumed_at  timestamptz,
        resumed_by  text
      )`);
    await q.query(`INSERT INTO decision.breaker (id, open) VALUES (1, false)`);

    // Escalation deliveries: one row per incident and target, retried by a worker until final.
    await q.query(`
      CREATE TABLE decision.escalation_deliveries (
        id              bigserial PRIMARY KEY,
        tenant_id       text NOT NULL,
        incident_id     uuid NOT NULL,
        target          text NOT NULL,
        kind            text NOT NULL CHECK (kind IN ('pagerduty', 'webhook')),
        url             text NOT NULL,
        secret_ref      text,
        routing_key     text,
        payload         jsonb NOT NULL,
        status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts        int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        last_status     int,
        last_error      text,
        created_at      timestamptz NOT NULL,
        finished_at     timestamptz,
        UNIQUE (incident_id, target)
      )`);
    await q.query(`CREATE INDEX escalation_deliveries_due_idx ON decision.escalation_deliveries (next_attempt_at) WHERE status = 'pending'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE decision.escalation_deliveries');
    await q.query('DROP TABLE decision.breaker');
    await q.query('DROP INDEX decision.remediations_expiry_idx');
    await q.query('DROP INDEX decision.remediations_opened_idx');
    await q.query('DROP INDEX decision.remediations_in_flight_idx');
    await q.query('DROP INDEX decision.remediations_target_idx');
    await q.query(`ALTER TABLE decision.remediations DROP CONSTRAINT remediations_status_check`);
    await q.query(`
      ALTER TABLE decision.remediations
        DROP COLUMN incident, DROP COLUMN opened_at, DROP COLUMN suspected_cause, DROP COLUMN decision_kind, DROP COLUMN explanation,
        DROP COLUMN fallbacks, DROP COLUMN emergency, DROP COLUMN expires_at, DROP COLUMN reviewed_by, DROP COLUMN reviewed_at,
        DROP COLUMN ttr_at_risk_at, DROP COLUMN breach_at`);
    await q.query(`ALTER TABLE decision.remediations ADD CONSTRAINT remediations_status_check CHECK (status IN ('planned', 'escalated', 'succeeded', 'failed'))`);
    await q.query('DROP TABLE decision.tenant_versions');
    await q.query(`ALTER TABLE decision.tenants DROP COLUMN document, DROP COLUMN applied_by`);
  }
}
