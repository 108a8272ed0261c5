import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { newEvent } from '@autoheal/contracts';
import { appendToOutbox, createDataSource, outboxInboxMigrationSql, runMigrations } from '@autoheal/persistence';
import { metricsRegistry } from '@autoheal/telemetry';
import { createTestDatabase, type TestDatabase } from '@autoheal/testing';
import { watchOutboxBacklog } from './outbox-backlog.js';

const SCHEMA = 'backlog_test';

class BacklogTestInitial1700000000000 implements MigrationInterface {
  name = 'BacklogTestInitial1700000000000';
  async up(q: QueryRunner): Promise<void> {
    for (const sql of outboxInboxMigrationSql(SCHEMA).up) await q.query(sql);
  }
  async down(q: QueryRunner): Promise<void> {
    for (const sql of outboxInboxMigrationSql(SCHEMA).down) await q.query(sql);
  }
}

/** What a scrape reports for the schema, as Prometheus would read it from /metrics. */
async function scraped(name: string): Promise<number | undefined> {
  const text = await metricsRegistry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`schema="${SCHEMA}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('outbox backlog at /metrics (real Postgres)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let unwatch: (() => void) | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = createDataSource({ url: db.url, schema: SCHEMA, migrations: [BacklogTestInitial1700000000000], applicationName: 'backlog-test' });
    await runMigrations(dataSource);
  });

  afterAll(async () => {
    unwatch?.();
    if (dataSource?.isInitialized) await dataSource.destroy();
    await db?.drop();
  });

  it('reports the unpublished events and the age of the oldest, read from the outbox at scrape time', async () => {
    unwatch = watchOutboxBacklog(dataSource, SCHEMA);
    expect(await scraped('autoheal_outbox_pending_events')).toBe(0);
    expect(await scraped('autoheal_outbox_oldest_pending_age_seconds')).toBe(0);

    const events = Array.from({ length: 3 }, (_, i) =>
      newEvent('health.heartbeat', { tenantId: 'acme', producer: 'backlog-test', data: { service: 'api', instance: `i-${i}`, intervalMs: 1000, sequence: i } }),
    );
    await dataSource.transaction((m) => appendToOutbox(m, SCHEMA, events));
    // The oldest waited five minutes: a relay that stopped publishing.
    await dataSource.query(`UPDATE ${SCHEMA}.outbox SET created_at = clock_timestamp() - interval '5 minutes' WHERE id = $1`, [events[0].id]);
    // A published row is no backlog, however old.
    await dataSource.query(`UPDATE ${SCHEMA}.outbox SET published_at = clock_timestamp(), created_at = clock_timestamp() - interval '1 hour' WHERE id = $1`, [events[2].id]);

    expect(await scraped('autoheal_outbox_pending_events')).toBe(2);
    const age = await scraped('autoheal_outbox_oldest_pending_age_seconds');
    expect(age).toBeGreaterThanOrEqual(300);
    expect(age).toBeLessThan(3_600);

    unwatch();
    unwatch = undefined;
    expect(await scraped('autoheal_outbox_pending_events')).toBeUndefined();
  });
});
