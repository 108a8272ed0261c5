import type { MigrationInterface, QueryRunner } from 'typeorm';
import { READER_ROLES, SERVICE_ROLES, tenantReadIsolationSql } from '@autoheal/persistence';

/**
 * What the admin API reads, and only that, for `autoheal_decision_reader` (the admin API's read
 * pool): the tenants and their versions, the remediations (backtest), the tenant breakers — each
 * under row-level security, showing a transaction only the tenants its credential's scope names —
 * and the global breaker (no tenant in it). No outbox, inbox, deliveries, attempts or availability.
 *
 * The service role `autoheal_decision` keeps seeing every row of these tables: planning, the global
 * breaker's judgement ("several tenants at once"), the sweeps and the workers span every tenant
 * by design, and the admin API's writes (apply, approve, reject, resume) go through it after the
 * guard and the services checked the credential's scope. Confining it would mean setting `*` in
 * every one of its transactions — the same rows, with more ways to get it wrong.
 */
const ISOLATION = tenantReadIsolationSql({
  schema: 'decision',
  reader: READER_ROLES.decisionReader,
  tenantTables: ['tenants', 'tenant_versions', 'remediations', 'tenant_breakers'],
  sharedTables: ['breaker'],
  unrestricted: [SERVICE_ROLES.decision],
});

export class DecisionAdminReadIsolation1766500000000 implements MigrationInterface {
  name = 'DecisionAdminReadIsolation1766500000000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of ISOLATION.up) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of ISOLATION.down) await q.query(sql);
  }
}
