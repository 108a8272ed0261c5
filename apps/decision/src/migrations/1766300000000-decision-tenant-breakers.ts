import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Blast radius per tenant first: one breaker per tenant beside the global one, and on every
 * decision how its incident stood against the tenant's inventory when it was decided — which
 * says what the incident counts toward (see policy/circuit-breaker.ts). Rows decided before
 * this migration counted toward the breaker; they are marked `declared`. The runtime role's
 * rights on the new table come from the schema's default privileges (1765000000000).
 */
export class DecisionTenantBreakers1766300000000 implements MigrationInterface {
  name = 'DecisionTenantBreakers1766300000000';

  async up(q: QueryRunner): Promise<void> {
    // A row appears the first time the tenant's breaker opens; no row is a closed breaker.
    await q.query(`
      CREATE TABLE decision.tenant_breakers (
        tenant_id   text PRIMARY KEY,
        open        boolean NOT NULL,
        reason      text,
        opened_at   timestamptz,
        resumed_at  timestamptz,
        resumed_by  text
      )`);
    await q.query(`
      ALTER TABLE decision.remediations
        ADD COLUMN breaker_standing text NOT NULL DEFAULT 'declared'
        CHECK (breaker_standing IN ('declared', 'undeclared', 'no_inventory'))`);
    // A tenant's window: its incidents opened since the window's start.
    await q.query(`CREATE INDEX remediations_tenant_opened_idx ON decision.remediations (tenant_id, opened_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX decision.remediations_tenant_opened_idx');
    await q.query('ALTER TABLE decision.remediations DROP COLUMN breaker_standing');
    await q.query('DROP TABLE decision.tenant_breakers');
  }
}
