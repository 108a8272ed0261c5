import { Client } from 'pg';
import { createTestDatabase, testDatabaseAdminUrl } from './test-database.js';

async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('createTestDatabase (real Postgres)', () => {
  it('creates separate databases from the template and drops them', async () => {
    const [one, two] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    try {
      expect(one.name).not.toBe(two.name);
      expect(one.name).toContain('test');
      await query(one.url, 'CREATE TABLE scratch (x int)');
      // What one file does is invisible to another.
      expect(await query(two.url, `SELECT to_regclass('public.scratch') AS t`)).toEqual([{ t: null }]);
      expect(await query<{ db: string }>(two.url, 'SELECT current_database() AS db')).toEqual([{ db: two.name }]);
      // The template carries the migrated service schemas; clones have the same ones.
      const schemas = (url: string) =>
        query<{ nspname: string }>(url, `SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1`);
      expect(await schemas(one.url)).toEqual(await schemas(two.url));
    } finally {
      await Promise.all([one.drop(), two.drop()]);
    }
    const left = await query(testDatabaseAdminUrl(), 'SELECT datname FROM pg_database WHERE datname = ANY($1)', [[one.name, two.name]]);
    expect(left).toEqual([]);
  });

  it('drops a database even while connections are open', async () => {
    const db = await createTestDatabase();
    const client = new Client({ connectionString: db.url });
    client.on('error', () => undefined); // the drop terminates it
    await client.connect();
    await db.drop();
    expect(await query(testDatabaseAdminUrl(), 'SELECT 1 FROM pg_database WHERE datname = $1', [db.name])).toEqual([]);
    await client.end().catch(() => undefined);
  });
});
