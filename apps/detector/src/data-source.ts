import { createDataSource } from '@autoheal/persistence';
import type { DataSource } from 'typeorm';
import { detectorMigrations } from './migrations/index.js';

export const DETECTOR_SCHEMA = 'detector';

export function detectorDataSource(url: string): DataSource {
  return createDataSource({ url, schema: DETECTOR_SCHEMA, migrations: detectorMigrations, applicationName: 'autoheal-detector' });
}
