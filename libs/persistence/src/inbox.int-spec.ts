import type { EntityManager } from 'typeorm';
import { claimInbox, claimInboxBatch } from './inbox.js';
import { openPersistenceTestDb, TEST_SCHEMA, type PersistenceTestDb } from './test-support/persistence-test-db.js';

describe('claimInbox (real Postgres)', () => {
  let t: PersistenceTestDb;

  beforeAll(async () => {
    t = await openPersistenceTestDb();
  });

  afterAll(async () => {
    await t.close();
  });

  /** What a consumer does with an event: claim it, and apply the effect only on the first claim. */
  async function handle(m: EntityManager, consumer: string, eventId: string): Promise<boolean> {
    if (!(await claimInbox(m, TEST_SCHEMA, consumer, eventId))) return false;
    await m.query(`INSERT INTO ${TEST_SCHEMA}.effects (event_id) VALUES ($1)`, [eventId]);
    return true;
  }

  async function effects(eventId: string): Promise<number> {
    const [row] = await t.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM ${TEST_SCHEMA}.effects WHERE event_id = $1`,
      [eventId],
    );
    return row.n;
  }

  it('is true the first time and false after that, per consumer', async () => {
    expect(await t.dataSource.transaction((m) => claimInbox(m, TEST_SCHEMA, 'auditor', 'evt-1'))).toBe(true);
    expect(await t.dataSource.transaction((m) => claimInbox(m, TEST_SCHEMA, 'auditor', 'evt-1'))).toBe(false);
    // Another consumer of the same event has its own record.
    expect(await t.dataSource.transaction((m) => claimInbox(m, TEST_SCHEMA, 'decision', 'evt-1'))).toBe(true);
  });

  it('leaves a rolled-back claim claimable again, with its effect', async () => {
    await expect(
      t.dataSource.transaction(async (m) => {
        expect(await handle(m, 'auditor', 'evt-2')).toBe(true);
        throw new Error('effect failed halfway');
      }),
    ).rejects.toThrow('effect failed halfway');
    expect(await effects('evt-2')).toBe(0);

    expect(await t.dataSource.transaction((m) => handle(m, 'auditor', 'evt-2'))).toBe(true);
    expect(await effects('evt-2')).toBe(1);
  });

  it('gives the same event delivered twice one effect, even concurrently', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () => t.dataSource.transaction((m) => handle(m, 'executor', 'evt-3'))),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await effects('evt-3')).toBe(1);

    // And later redeliveries have none.
    expect(await t.dataSource.transaction((m) => handle(m, 'executor', 'evt-3'))).toBe(false);
    expect(await effects('evt-3')).toBe(1);
  });

  it('lets a concurrent claim through when the first one rolls back', async () => {
    let firstClaimed!: () => void;
    const claimed = new Promise<void>((resolve) => (firstClaimed = resolve));
    let abort!: () => void;
    const aborted = new Promise<void>((resolve) => (abort = resolve));

    const first = t.dataSource
      .transaction(async (m) => {
        expect(await handle(m, 'executor', 'evt-4')).toBe(true);
        firstClaimed();
        await aborted;
        throw new Error('crashed before commit');
      })
      .catch((error: Error) => error.message);

    await claimed;
    // Blocks on the first transaction's uncommitted row until it rolls back.
    const second = t.dataSource.transaction((m) => handle(m, 'executor', 'evt-4'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    abort();

    expect(await first).toBe('crashed before commit');
    expect(await second).toBe(true);
    expect(await effects('evt-4')).toBe(1);
  });

  it('claims a batch in one statement: true for each first claim, false for one taken before or repeated in the batch', async () => {
    await t.dataSource.transaction((m) => claimInbox(m, TEST_SCHEMA, 'auditor', 'batch-2'));
    const claims = [
      { consumer: 'auditor', eventId: 'batch-1' },
      { consumer: 'auditor', eventId: 'batch-2' },
      { consumer: 'decision', eventId: 'batch-2' },
      { consumer: 'auditor', eventId: 'batch-1' },
      { consumer: 'auditor', eventId: 'batch-3' },
    ];
    expect(await t.dataSource.transaction((m) => claimInboxBatch(m, TEST_SCHEMA, claims))).toEqual([true, false, true, false, true]);
    // Committed: claimed for good.
    expect(await t.dataSource.transaction((m) => claimInboxBatch(m, TEST_SCHEMA, claims))).toEqual([false, false, false, false, false]);
    expect(await t.dataSource.transaction((m) => claimInboxBatch(m, TEST_SCHEMA, []))).toEqual([]);
  });

  it('leaves a rolled-back batch of claims claimable again', async () => {
    const claims = [{ consumer: 'auditor', eventId: 'batch-4' }, { consumer: 'auditor', eventId: 'batch-5' }];
    await expect(
      t.dataSource.transaction(async (m) => {
        expect(await claimInboxBatch(m, TEST_SCHEMA, claims)).toEqual([true, true]);
        throw new Error('batch failed halfway');
      }),
    ).rejects.toThrow('batch failed halfway');
    expect(await t.dataSource.transaction((m) => claimInboxBatch(m, TEST_SCHEMA, claims))).toEqual([true, true]);
  });

  it('refuses to claim outside a transaction', async () => {
    await expect(claimInbox(t.dataSource.manager, TEST_SCHEMA, 'auditor', 'evt-5')).rejects.toThrow(/inside a transaction/);
  });
});
