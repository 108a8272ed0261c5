import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { newEvent, type Envelope } from '@autoheal/contracts';
import { createTestDatabase, type TestDatabase } from '@autoheal/testing';
import { createDataSource } from '../data-source.js';
import { outboxInboxMigrationSql } from '../outbox-inbox.migration.js';
import { runMigrations } from '../run-migrations.js';

/** A schema of its own, shaped like a service's: outbox, inbox, and one table standing for "the effect". */
export const TEST_SCHEMA = 'persistence_test';

export class PersistenceTestInitial1700000000000 implements MigrationInterface {
  name = 'PersistenceTestInitial1700000000000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of outboxInboxMigrationSql(TEST_SCHEMA).up) await q.query(sql);
    await q.query(`CREATE TABLE ${TEST_SCHEMA}.effects (event_id text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ${TEST_SCHEMA}.effects`);
    for (const sql of outboxInboxMigrationSql(TEST_SCHEMA).down) await q.query(sql);
  }
}

export interface PersistenceTestDb {
  db: TestDatabase;
  dataSource: DataSource;
  close(): Promise<void>;
}

export async function openPersistenceTestDb(): Promise<PersistenceTestDb> {
  const db = await createTestDatabase();
  const dataSource = createDataSource({
    url: db.url,
    schema: TEST_SCHEMA,
    migrations: [PersistenceTestInitial1700000000000],
    applicationName: 'persistence-test',
  });
  await runMigrations(dataSource);
  return {
    db,
    dataSource,
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await db.drop();
    },
  };
}

export function heartbeat(sequence: number): Envelope {
  return newEvent('health.heartbeat', {
    tenantId: 'acme',
    producer: 'persistence-test',
    data: { service: 'api', instance: 'i-1', intervalMs: 1000, sequence },
  });
}
