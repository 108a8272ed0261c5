/**
 * Every service's migrations, checked against a real Postgres: each file in `src/migrations` is
 * listed in the service's index in timestamp order (a migration written but not registered would
 * never run), and all of them can be undone and applied again (a `down` that was never run is a
 * rollback that fails the night it is needed). Both as the owner role, as production migrates.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { runMigrations } from '@autoheal/persistence';
import { createTestDatabase, type TestDatabase } from '@autoheal/testing';
import { auditorDataSource } from '../../apps/auditor/src/data-source.js';
import { auditorMigrations } from '../../apps/auditor/src/migrations/index.js';
import { decisionDataSource } from '../../apps/decision/src/data-source.js';
import { decisionMigrations } from '../../apps/decision/src/migrations/index.js';
import { detectorDataSource } from '../../apps/detector/src/data-source.js';
import { detectorMigrations } from '../../apps/detector/src/migrations/index.js';
import { executorDataSource } from '../../apps/executor/src/data-source.js';
import { executorMigrations } from '../../apps/executor/src/migrations/index.js';

const ROOT = join(__dirname, '..', '..');

const SERVICES: { name: string; migrations: { name: string }[]; dataSource: (url: string) => DataSource }[] = [
  { name: 'auditor', migrations: auditorMigrations, dataSource: auditorDataSource },
  { name: 'decision', migrations: decisionMigrations, dataSource: decisionDataSource },
  { name: 'detector', migrations: detectorMigrations, dataSource: detectorDataSource },
  { name: 'executor', migrations: executorMigrations, dataSource: executorDataSource },
];

/** `1763800000000-decision-guardrails.ts` → 1763800000000 */
const timestampOf = (text: string): number => Number(/(\d{13})/.exec(text)?.[1] ?? NaN);

describe.each(SERVICES)('$name migrations', ({ name, migrations, dataSource }) => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('registers every migration file, in timestamp order', () => {
    const files = readdirSync(join(ROOT, 'apps', name, 'src', 'migrations')).filter((f) => /^\d{13}-.+\.ts$/.test(f) && !f.includes('spec'));
    const registered = migrations.map((m) => timestampOf(m.name));
    expect(registered).toEqual(files.map(timestampOf).sort((a, b) => a - b));
    expect(registered).toEqual([...registered].sort((a, b) => a - b));
  });

  it('undoes every migration and applies them again', async () => {
    const ds = dataSource(db.roleUrl('owner'));
    await ds.initialize();
    try {
      const applied = async () => (await ds.query<{ name: string }[]>(`SELECT name FROM migrations ORDER BY id`)).map((r) => r.name);
      expect(await applied()).toEqual(migrations.map((m) => m.name));
      for (let i = 0; i < migrations.length; i++) await ds.undoLastMigration({ transaction: 'each' });
      expect(await applied()).toEqual([]);
      await runMigrations(ds);
      expect(await applied()).toEqual(migrations.map((m) => m.name));
    } finally {
      await ds.destroy();
    }
  });
});
