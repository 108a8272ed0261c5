import type { DataSource } from 'typeorm';
import { runMigrations } from './run-migrations.js';

/** Where a migration step connects: the owner role's URL, kept apart from the services' own. */
export const MIGRATION_URL_VARIABLE = 'DATABASE_MIGRATION_URL';

/**
 * The body of every service's `migrate.js`: applies that service's migrations as the owner role
 * from DATABASE_MIGRATION_URL. Never DATABASE_URL: that is the service's runtime role, which may
 * not change the schema, and a migration run as a superuser would leave objects (the auditor's
 * SECURITY DEFINER function among them) owned by the superuser.
 */
export async function migrateFromEnvironment(dataSource: (url: string) => DataSource, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const url = env[MIGRATION_URL_VARIABLE];
  if (!url) throw new Error(`${MIGRATION_URL_VARIABLE} is required: the URL of the owner role (autoheal_owner) that owns the service schemas`);
  const ds = dataSource(url);
  try {
    await runMigrations(ds);
  } finally {
    if (ds.isInitialized) await ds.destroy();
  }
}

/** Runs `migrateFromEnvironment` as a process: exit code 1 and the error on failure. */
export function runMigrateCommand(dataSource: (url: string) => DataSource): void {
  migrateFromEnvironment(dataSource).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
