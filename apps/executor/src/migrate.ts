import { runMigrateCommand } from '@autoheal/persistence';
import { executorDataSource } from './data-source.js';

/** `node apps/executor/dist/migrate.js`: applies this service's migrations as the owner role (DATABASE_MIGRATION_URL). */
runMigrateCommand(executorDataSource);
