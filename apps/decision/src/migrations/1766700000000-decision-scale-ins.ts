import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A verified scale_out is scaled back in once its incident has stayed resolved for the plan's
 * `scaleInAfterMs` (scale-in/scale-in.ts). One row per verified scale_out, written in the
 * verification's transaction: `pending` with the time it is judged next (`due_at`, set exactly
 * while pending, so a restart loses nothing), then `planned` (announced as remediation.planned,
 * action scale_in), `skipped` (not applicable), and the executor's `succeeded` or `failed`.
 * The scale-in has its own remediation id, chosen when the row is written: the row of
 * `remediations` stays the incident's. The runtime role's rights on the new table come from the
 * schema's default privileges (1765000000000); the admin API's reader sees none of it.
 */
export class DecisionScaleIns1766700000000 implements MigrationInterface {
  name = 'DecisionScaleIns1766700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE decision.scale_ins (
        scale_out_id   uuid PRIMARY KEY,
        remediation_id uuid NOT NULL UNIQUE,
        incident_id    uuid NOT NULL,
        tenant_id      text NOT NULL,
        service        text NOT NULL,
        instance       text NOT NULL,
        verified_at    timestamptz NOT NULL,
        after_ms       integer NOT NULL CHECK (after_ms >= 0),
        status         text NOT NULL CHECK (status IN ('pending', 'planned', 'skipped', 'succeeded', 'failed')),
        due_at         timestamptz,
        reason         text NOT NULL,
        policy_version text,
        execution      jsonb,
        decided_at     timestamptz,
        outcome_at     timestamptz,
        outcome_error  jsonb,
        CHECK ((status = 'pending') = (due_at IS NOT NULL))
      )`);
    // The scale-in worker claims pending rows once due.
    await q.query(`CREATE INDEX scale_ins_due_idx ON decision.scale_ins (due_at) WHERE status = 'pending'`);
    // What interrupts the quiet: the service's other incidents since the scale_out was verified.
    await q.query(`CREATE INDEX remediations_service_opened_idx ON decision.remediations (tenant_id, service, opened_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX decision.remediations_service_opened_idx');
    await q.query('DROP TABLE decision.scale_ins');
  }
}
