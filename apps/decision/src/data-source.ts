import { createDataSource } from '@autoheal/persistence';
import type { DataSource } from 'typeorm';
import { decisionMigrations } from './migrations/index.js';

export const DECISION_SCHEMA = 'decision';
export const DECISION_APPLICATION_NAME = 'autoheal-decision';

export function decisionDataSource(url: string): DataSource {
  return createDataSource({ url, schema: DECISION_SCHEMA, migrations: decisionMigrations, applicationName: DECISION_APPLICATION_NAME });
}
