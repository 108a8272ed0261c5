import type { DataSource } from 'typeorm';
import { migrateFromEnvironment } from './migrate-command';

describe('migrateFromEnvironment', () => {
  it('connects with DATABASE_MIGRATION_URL only: without it, it refuses rather than migrate as the runtime role of DATABASE_URL', async () => {
    const asked: string[] = [];
    const dataSource = (url: string): DataSource => {
      asked.push(url);
      throw new Error('not reached');
    };
    await expect(migrateFromEnvironment(dataSource, { DATABASE_URL: 'postgres://autoheal_detector@db/autoheal' })).rejects.toThrow(
      'DATABASE_MIGRATION_URL is required',
    );
    expect(asked).toEqual([]);
  });

  it('hands DATABASE_MIGRATION_URL to the DataSource', async () => {
    const asked: string[] = [];
    const dataSource = (url: string): DataSource => {
      asked.push(url);
      throw new Error('stop here');
    };
    await expect(
      migrateFromEnvironment(dataSource, { DATABASE_URL: 'postgres://autoheal_detector@db/autoheal', DATABASE_MIGRATION_URL: 'postgres://autoheal_owner@db/autoheal' }),
    ).rejects.toThrow('stop here');
    expect(asked).toEqual(['postgres://autoheal_owner@db/autoheal']);
  });
});
