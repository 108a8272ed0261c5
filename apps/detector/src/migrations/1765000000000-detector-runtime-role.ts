import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runtimeRoleGrantsSql, SERVICE_ROLES } from '@autoheal/persistence';

/**
 * The service logs in as its own role (detector → autoheal_detector): rows of its own tables and
 * nothing else — no DDL, no TRUNCATE, no other schema.
 */
const grants = runtimeRoleGrantsSql('detector', SERVICE_ROLES.detector);

export class DetectorRuntimeRole1765000000000 implements MigrationInterface {
  name = 'DetectorRuntimeRole1765000000000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of grants.up) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of grants.down) await q.query(sql);
  }
}
