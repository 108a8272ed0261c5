import { runMigrations } from '@autoheal/persistence';
import { auditorDataSource } from './data-source.js';

/** `node apps/auditor/dist/migrate.js`: applies this service's migrations to DATABASE_URL. */
async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const ds = auditorDataSource(url);
  try {
    await runMigrations(ds);
  } finally {
    if (ds.isInitialized) await ds.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
