import type { MigrationInterface, QueryRunner } from 'typeorm';

const STATUSES_BEFORE = `'planned', 'dry_run', 'awaiting_approval', 'approved', 'rejected', 'escalated', 'held', 'succeeded', 'failed', 'deferred', 'resolved'`;

/**
 * A remediation is done when it is verified, not when the driver says ok. `verifying`: the driver
 * reported success and the incident has until `verify_deadline` to resolve; `verified`: it did.
 * `execution` keeps what the executor needs for the plan (runtime, action parameters, verify
 * settings), so that an approval announces the same plan the policy made.
 */
export class DecisionVerification1766600000000 implements MigrationInterface {
  name = 'DecisionVerification1766600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE decision.remediations DROP CONSTRAINT remediations_status_check`);
    await q.query(`
      ALTER TABLE decision.remediations
        ADD CONSTRAINT remediations_status_check CHECK (status IN (${STATUSES_BEFORE}, 'verifying', 'verified')),
        ADD COLUMN execution       jsonb,
        ADD COLUMN verify_deadline timestamptz,
        ADD COLUMN verified_at     timestamptz`);
    await q.query(`ALTER TABLE decision.remediations ADD CONSTRAINT remediations_verify_check CHECK ((status = 'verifying') = (verify_deadline IS NOT NULL))`);
    // The verification worker claims rows past their deadline.
    await q.query(`CREATE INDEX remediations_verify_due_idx ON decision.remediations (verify_deadline) WHERE status = 'verifying'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX decision.remediations_verify_due_idx');
    await q.query(`ALTER TABLE decision.remediations DROP CONSTRAINT remediations_verify_check`);
    await q.query(`ALTER TABLE decision.remediations DROP CONSTRAINT remediations_status_check`);
    // The older schema ends at the driver's word.
    await q.query(`UPDATE decision.remediations SET status = 'succeeded' WHERE status IN ('verifying', 'verified')`);
    await q.query(`ALTER TABLE decision.remediations DROP COLUMN execution, DROP COLUMN verify_deadline, DROP COLUMN verified_at`);
    await q.query(`ALTER TABLE decision.remediations ADD CONSTRAINT remediations_status_check CHECK (status IN (${STATUSES_BEFORE}))`);
  }
}
