import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A playbook's verify window: after the incident resolves, a remediation stays `verifying` until
 * the target's health has held for the window. `hold_until` (set only while verifying) is when
 * the hold ends, so a restart loses nothing: the verification worker finishes holds that are due.
 * `relapse_incident_id` is the new incident on the target that broke a hold: the fallback that
 * replaces the failed remediation is verified by that incident resolving.
 */
export class DecisionVerifyWindow1766800000000 implements MigrationInterface {
  name = 'DecisionVerifyWindow1766800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE decision.remediations
        ADD COLUMN hold_until          timestamptz,
        ADD COLUMN relapse_incident_id uuid`);
    await q.query(`ALTER TABLE decision.remediations ADD CONSTRAINT remediations_hold_check CHECK (hold_until IS NULL OR status = 'verifying')`);
    // The worker claims holds that are due; a new incident looks for a hold on its target.
    await q.query(`CREATE INDEX remediations_hold_due_idx ON decision.remediations (hold_until) WHERE hold_until IS NOT NULL`);
    await q.query(`CREATE INDEX remediations_hold_target_idx ON decision.remediations (tenant_id, service, instance) WHERE hold_until IS NOT NULL`);
    await q.query(`CREATE INDEX remediations_relapse_idx ON decision.remediations (relapse_incident_id) WHERE relapse_incident_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX decision.remediations_relapse_idx');
    await q.query('DROP INDEX decision.remediations_hold_target_idx');
    await q.query('DROP INDEX decision.remediations_hold_due_idx');
    await q.query(`ALTER TABLE decision.remediations DROP CONSTRAINT remediations_hold_check`);
    // The older schema verifies at the resolution: a hold in progress counts as verified.
    await q.query(`UPDATE decision.remediations SET status = 'verified', verified_at = incident_resolved_at, verify_deadline = NULL WHERE hold_until IS NOT NULL`);
    await q.query(`ALTER TABLE decision.remediations DROP COLUMN hold_until, DROP COLUMN relapse_incident_id`);
  }
}
