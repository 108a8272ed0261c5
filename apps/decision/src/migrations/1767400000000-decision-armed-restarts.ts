import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Armed restarts (switchover-arms/switchover-arm.ts): a used arm now remembers the incident whose
 * crash the agent healed under it (`used_incident_id`) and when (`used_at`), because it is armed
 * again only once that incident is verified and the cooldown has passed (a process crashing again
 * soon after goes the control plane's way). Rows exist now for every service on the agent
 * runtime, not only those with warm spares: their arms allow a restart in place.
 */
export class DecisionArmedRestarts1767400000000 implements MigrationInterface {
  name = 'DecisionArmedRestarts1767400000000';

  async up(q: QueryRunner): Promise<void> {
    // failures: arm_switchover failures in a row (an agent unreachable, a host lost): each waits twice as long before the next arm.
    await q.query(`ALTER TABLE decision.switchover_arms ADD COLUMN used_incident_id uuid, ADD COLUMN used_at timestamptz, ADD COLUMN failures integer NOT NULL DEFAULT 0`);
    // Arms used before this migration: their incident is unknown, so they are armed again after their TTL at the latest.
    await q.query(`UPDATE decision.switchover_arms SET used_at = coalesce(decided_at, due_at) WHERE status = 'used'`);
    await q.query(`ALTER TABLE decision.switchover_arms ADD CONSTRAINT switchover_arms_used_check CHECK ((status = 'used') = (used_at IS NOT NULL))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE decision.switchover_arms DROP CONSTRAINT switchover_arms_used_check, DROP COLUMN failures, DROP COLUMN used_at, DROP COLUMN used_incident_id`);
  }
}
