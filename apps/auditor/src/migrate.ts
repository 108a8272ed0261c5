import { runMigrateCommand } from '@autoheal/persistence';
import { auditorDataSource } from './data-source.js';

/** `node apps/auditor/dist/migrate.js`: applies this service's migrations as the owner role (DATABASE_MIGRATION_URL). */
runMigrateCommand(auditorDataSource);
