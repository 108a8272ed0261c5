import { runMigrateCommand } from '@autoheal/persistence';
import { decisionDataSource } from './data-source.js';

/** `node apps/decision/dist/migrate.js`: applies this service's migrations as the owner role (DATABASE_MIGRATION_URL). */
runMigrateCommand(decisionDataSource);
