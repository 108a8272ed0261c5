import { createDataSource } from '@autoheal/persistence';
import type { DataSource } from 'typeorm';
import { auditorMigrations } from './migrations/index.js';

export const AUDITOR_SCHEMA = 'auditor';
export const AUDITOR_APPLICATION_NAME = 'autoheal-auditor';

export function auditorDataSource(url: string): DataSource {
  return createDataSource({ url, schema: AUDITOR_SCHEMA, migrations: auditorMigrations, applicationName: AUDITOR_APPLICATION_NAME });
}
