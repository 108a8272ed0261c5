import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deferred decisions: an incident refused only by the per-service concurrency cap or the
 * per-target cooldown waits (`deferred`) and is decided again at `retry_at`, in the same row
 * (one row per incident stays the rule). `resolved`: the incident ended while deferred.
 */
export class DecisionDeferrals1763900000000 implements MigrationInterface {
  name = 'DecisionDeferrals1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE decision.remediations DROP CONSTRAINT remediations_status_check`);
    await q.query(`
      ALTER TABLE decision.remediations
        ADD CONSTRAINT remediations_status_check CHECK (status IN
          ('planned', 'dry_run', 'awaiting_approval', 'approved', 'rejected', 'escalated', 'held', 'succeeded', 'failed', 'deferred', 'resolved')),
        -- When a deferred decision is taken again; set exactly while deferred.
        ADD COLUMN retry_at    timestamptz,
        -- When the incident was first deferred (the deferral limit counts from here); kept afterwards.
        ADD COLUMN deferred_at timestamptz`);
    await q.query(`ALTER TABLE decision.remediations ADD CONSTRAINT remediations_retry_check CHECK ((status = 'deferred') = (retry_at IS NOT NULL))`);
    // The worker claims due rows by retry_at; a finished remediation makes its service's deferrals due.
    await q.query(`CREATE INDEX remediations_due_idx ON decision.remediations (retry_at) WHERE status = 'deferred'`);
    await q.query(`CREATE INDEX remediations_deferred_idx ON decision.remediations (tenant_id, service) WHERE status = 'deferred'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX decision.remediations_deferred_idx');
    await q.query('DROP INDEX decision.remediations_due_idx');
    await q.query(`ALTER TABLE decision.remediations DROP CONSTRAINT remediations_retry_check`);
    await q.query(`ALTER TABLE decision.remediations DROP CONSTRAINT remediations_status_check`);
    // The older schema knows no deferral: a waiting incident is one a human has to take over.
    await q.query(`UPDATE decision.remediations SET status = 'escalated' WHERE status IN ('deferred', 'resolved')`);
    await q.query(`ALTER TABLE decision.remediations DROP COLUMN retry_at, DROP COLUMN deferred_at`);
    await q.query(`
      ALTER TABLE decision.remediations ADD CONSTRAINT remediations_status_check CHECK (status IN
        ('planned', 'dry_run', 'awaiting_approval', 'approved', 'rejected', 'escalated', 'held', 'succeeded', 'failed'))`);
  }
}
