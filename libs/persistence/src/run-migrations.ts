import type { DataSource, Migration } from 'typeorm';
import { assertSchemaName } from './schema-name.js';

/**
 * Creates the DataSource's schema if missing, then runs its pending migrations. Several
 * processes may start at once (replicas, `npm start`), so the whole step holds a
 * session-level advisory lock per schema: the others wait, then find nothing pending.
 * Initialises the DataSource when needed and leaves it open.
 */
export async function runMigrations(dataSource: DataSource): Promise<Migration[]> {
  const schema = schemaOf(dataSource);
  if (!dataSource.isInitialized) await dataSource.initialize();
  const lockRunner = dataSource.createQueryRunner();
  await lockRunner.connect();
  try {
    await lockRunner.query(`SELECT pg_advisory_lock(hashtext($1))`, [`autoheal.migrations.${schema}`]);
    try {
      await lockRunner.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      return await dataSource.runMigrations({ transaction: 'all' });
    } finally {
      await lockRunner.query(`SELECT pg_advisory_unlock(hashtext($1))`, [`autoheal.migrations.${schema}`]);
    }
  } finally {
    await lockRunner.release();
  }
}

function schemaOf(dataSource: DataSource): string {
  const schema = (dataSource.options as { schema?: string }).schema;
  if (!schema) throw new Error('runMigrations needs a DataSource with a schema (use createDataSource)');
  return assertSchemaName(schema);
}
