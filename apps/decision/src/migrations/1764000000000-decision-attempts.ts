import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Playbook fallbacks: when a planned remediation fails and the policy plans another candidate,
 * the incident's row (still one per incident) takes the new remediation id and the failed attempt
 * moves here. The hourly cap and the cooldown count these attempts with the rows, and the policy's
 * "already tried" check reads them.
 */
export class DecisionAttempts1764000000000 implements MigrationInterface {
  name = 'DecisionAttempts1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE decision.remediation_attempts (
        remediation_id uuid PRIMARY KEY,
        incident_id    uuid NOT NULL,
        tenant_id      text NOT NULL,
        service        text NOT NULL,
        instance       text NOT NULL,
        action         text NOT NULL,
        -- When it was planned: counts against the hourly cap and the cooldown like a row's planned_at.
        planned_at     timestamptz,
        failed_at      timestamptz NOT NULL,
        error          jsonb
      )`);
    await q.query(`CREATE INDEX remediation_attempts_incident_idx ON decision.remediation_attempts (incident_id, failed_at)`);
    await q.query(`CREATE INDEX remediation_attempts_auto_actions_idx ON decision.remediation_attempts (tenant_id, planned_at) WHERE planned_at IS NOT NULL`);
    await q.query(`CREATE INDEX remediation_attempts_target_idx ON decision.remediation_attempts (tenant_id, service, instance, planned_at) WHERE planned_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE decision.remediation_attempts');
  }
}
