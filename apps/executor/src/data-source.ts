import { createDataSource } from '@autoheal/persistence';
import type { DataSource } from 'typeorm';
import { executorMigrations } from './migrations/index.js';

export const EXECUTOR_SCHEMA = 'executor';
export const EXECUTOR_APPLICATION_NAME = 'autoheal-executor';

export function executorDataSource(url: string): DataSource {
  return createDataSource({ url, schema: EXECUTOR_SCHEMA, migrations: executorMigrations, applicationName: EXECUTOR_APPLICATION_NAME });
}
