import type { MigrationInterface, QueryRunner } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '@autoheal/testing';
import { createDataSource } from './data-source.js';
import { outboxInboxMigrationSql } from './outbox-inbox.migration.js';
import { runMigrations } from './run-migrations.js';

const SCHEMA = 'migrations_test';

class MigrationsTestInitial1700000000001 implements MigrationInterface {
  name = 'MigrationsTestInitial1700000000001';
  async up(q: QueryRunner): Promise<void> {
    for (const sql of outboxInboxMigrationSql(SCHEMA).up) await q.query(sql);
  }
  async down(q: QueryRunner): Promise<void> {
    for (const sql of outboxInboxMigrationSql(SCHEMA).down) await q.query(sql);
  }
}

describe('createDataSource + runMigrations (real Postgres)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.drop();
  });

  const dataSource = () =>
    createDataSource({ url: db.url, schema: SCHEMA, migrations: [MigrationsTestInitial1700000000001], applicationName: 'migrations-test' });

  it('creates the schema, runs pending migrations once even when processes race, and records them in <schema>.migrations', async () => {
    const sources = [dataSource(), dataSource(), dataSource()];
    try {
      const runs = await Promise.all(sources.map((s) => runMigrations(s)));
      expect(runs.map((r) => r.length).sort()).toEqual([0, 0, 1]);
      expect(await runMigrations(sources[0])).toEqual([]);

      const tables: { table_name: string }[] = await sources[0].query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
        [SCHEMA],
      );
      expect(tables.map((r) => r.table_name)).toEqual(['inbox', 'migrations', 'outbox']);
      const applied: { name: string }[] = await sources[0].query(`SELECT name FROM ${SCHEMA}.migrations`);
      expect(applied.map((r) => r.name)).toEqual(['MigrationsTestInitial1700000000001']);

      // Connections say who they are, and unqualified names resolve to the service schema.
      const [who] = await sources[0].query<{ app: string; schema: string }[]>(
        `SELECT current_setting('application_name') AS app, current_schema() AS schema`,
      );
      expect(who).toEqual({ app: 'migrations-test', schema: SCHEMA });
    } finally {
      await Promise.all(sources.filter((s) => s.isInitialized).map((s) => s.destroy()));
    }
  });

  it('rejects schema names that are not plain identifiers', () => {
    expect(() => createDataSource({ url: db.url, schema: 'x"; DROP', migrations: [], applicationName: 't' })).toThrow(/invalid schema name/);
  });
});
