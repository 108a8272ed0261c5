import { runMigrations } from '@autoheal/persistence';
import { executorDataSource } from './data-source.js';

/** `node apps/executor/dist/migrate.js`: applies this service's migrations to DATABASE_URL. */
async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const ds = executorDataSource(url);
  await runMigrations(ds);
  await ds.destroy();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
