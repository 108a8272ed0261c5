import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Armed switchovers (switchover-arms/switchover-arm.ts): one row per service with warm spares on
 * the agent runtime, judged again at `due_at` by the arms worker. `armed`: the last
 * `arm_switchover` planned (`remediation_id`, holding until `expires_at`, under `policy_version`);
 * `withheld`: the policy does not allow the service's crash to be healed automatically now (or
 * the arm was withdrawn); `used`: an agent switched under the arm (the executor's reply to the
 * incident's restart said so), to be re-armed at once. The runtime role's rights come from the
 * schema's default privileges (1765000000000).
 */
export class DecisionSwitchoverArms1767300000000 implements MigrationInterface {
  name = 'DecisionSwitchoverArms1767300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE decision.switchover_arms (
        tenant_id      text NOT NULL,
        service        text NOT NULL,
        status         text NOT NULL CHECK (status IN ('new', 'armed', 'withheld', 'used', 'failed')),
        remediation_id uuid UNIQUE,
        policy_version text,
        expires_at     timestamptz,
        due_at         timestamptz NOT NULL,
        reason         text NOT NULL,
        decided_at     timestamptz,
        PRIMARY KEY (tenant_id, service)
      )`);
    await q.query(`CREATE INDEX switchover_arms_due_idx ON decision.switchover_arms (due_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE decision.switchover_arms');
  }
}
