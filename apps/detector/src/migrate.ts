import { runMigrateCommand } from '@autoheal/persistence';
import { detectorDataSource } from './data-source.js';

/** `node apps/detector/dist/migrate.js`: applies this service's migrations as the owner role (DATABASE_MIGRATION_URL). */
runMigrateCommand(detectorDataSource);
