import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runtimeRoleGrantsSql, SERVICE_ROLES } from '@autoheal/persistence';

/**
 * The service logs in as its own role (decision → autoheal_decision): rows of its own tables and
 * nothing else — no DDL, no TRUNCATE, no other schema.
 * `tenant_versions` is the history of tenant documents: INSERT and SELECT only.
 */
const grants = runtimeRoleGrantsSql('decision', SERVICE_ROLES.decision, { appendOnlyTables: ['tenant_versions'] });

export class DecisionRuntimeRole1765000000000 implements MigrationInterface {
  name = 'DecisionRuntimeRole1765000000000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of grants.up) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of grants.down) await q.query(sql);
  }
}
