import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '@autoheal/testing';
import { createDataSource, openDataSource } from './data-source.js';

describe('openDataSource (real Postgres)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.drop();
  });

  /** Connections Postgres holds open for `applicationName`, as its own activity view lists them. */
  async function backends(applicationName: string): Promise<number> {
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    try {
      const rows = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1`, [applicationName]);
      return Number(rows.rows[0].n);
    } finally {
      await admin.end();
    }
  }

  it('opens every connection of the pool before the service needs one, and keeps them', async () => {
    const ds = await openDataSource({ url: db.url, schema: 'public', migrations: [], applicationName: 'pool-open-test', poolMax: 4 });
    try {
      expect(await backends('pool-open-test')).toBe(4);
      await ds.query('SELECT 1');
      expect(await backends('pool-open-test')).toBe(4);
    } finally {
      await ds.destroy();
    }
  });

  it('differs from a plain DataSource, whose pool holds one connection after initialize', async () => {
    const ds = await createDataSource({ url: db.url, schema: 'public', migrations: [], applicationName: 'pool-lazy-test', poolMax: 4 }).initialize();
    try {
      expect(await backends('pool-lazy-test')).toBe(1);
    } finally {
      await ds.destroy();
    }
  });
});
