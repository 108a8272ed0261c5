import { QueryFailedError } from 'typeorm';
import { subjectFor } from '@autoheal/contracts';
import { appendToOutbox, insertOutboxBatchSql, outboxBatch, outboxBatchStored } from './outbox.js';
import { preparedStatement, queryPrepared } from './prepared-statement.js';
import { heartbeat, openPersistenceTestDb, TEST_SCHEMA, type PersistenceTestDb } from './test-support/persistence-test-db.js';

describe('queryPrepared and outbox batches (real Postgres)', () => {
  let t: PersistenceTestDb;

  beforeAll(async () => {
    t = await openPersistenceTestDb();
  });

  afterAll(async () => {
    await t.close();
  });

  const applyEffect = preparedStatement('persistence_test_apply_effect', `INSERT INTO ${TEST_SCHEMA}.effects (event_id) VALUES ($1) RETURNING event_id`);
  const renameEffect = preparedStatement('persistence_test_rename_effect', `UPDATE ${TEST_SCHEMA}.effects SET event_id = $2 WHERE event_id = $1 RETURNING event_id`);

  it('returns the rows of INSERT and UPDATE … RETURNING, in a transaction and without one', async () => {
    const inserted = await t.dataSource.transaction((m) => queryPrepared<{ event_id: string }>(m, applyEffect, ['prepared-1']));
    expect(inserted).toEqual([{ event_id: 'prepared-1' }]);
    // The data source's own manager borrows a connection for the call, and gives it back.
    expect(await queryPrepared(t.dataSource.manager, renameEffect, ['prepared-1', 'prepared-2'])).toEqual([{ event_id: 'prepared-2' }]);
    expect(await queryPrepared(t.dataSource.manager, renameEffect, ['prepared-1', 'prepared-3'])).toEqual([]);
  });

  it('runs on the transaction’s connection: a rollback takes its effect back', async () => {
    await expect(
      t.dataSource.transaction(async (m) => {
        await queryPrepared(m, applyEffect, ['prepared-rolled-back']);
        throw new Error('the rest failed');
      }),
    ).rejects.toThrow('the rest failed');
    const [row] = await t.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM ${TEST_SCHEMA}.effects WHERE event_id = 'prepared-rolled-back'`);
    expect(row.n).toBe(0);
  });

  it('throws what manager.query throws', async () => {
    const broken = preparedStatement('persistence_test_broken', `SELECT * FROM ${TEST_SCHEMA}.no_such_table WHERE x = $1`);
    await expect(queryPrepared(t.dataSource.manager, broken, [1])).rejects.toBeInstanceOf(QueryFailedError);
  });

  it('stores a batch inserted by the caller’s own statement as appendToOutbox stores it, in order', async () => {
    const events = [heartbeat(1), heartbeat(2), heartbeat(3)];
    const appended = [heartbeat(4)];
    await t.dataSource.transaction(async (m) => {
      const batch = outboxBatch(events);
      await m.query(
        `WITH effect AS (INSERT INTO ${TEST_SCHEMA}.effects (event_id) VALUES ($5) RETURNING event_id)
         ${insertOutboxBatchSql(TEST_SCHEMA, 1)} WHERE EXISTS (SELECT FROM effect)`,
        [...batch.params, 'batch-effect'],
      );
      await outboxBatchStored(m, TEST_SCHEMA, batch);
      await appendToOutbox(m, TEST_SCHEMA, appended);
    });
    const rows = await t.dataSource.query<{ id: string; subject: string; payload: unknown }[]>(
      `SELECT id, subject, payload FROM ${TEST_SCHEMA}.outbox WHERE id = ANY($1::uuid[]) ORDER BY seq`,
      [[...events, ...appended].map((e) => e.id)],
    );
    expect(rows.map((r) => r.id)).toEqual([...events, ...appended].map((e) => e.id));
    expect(rows[0].payload).toEqual(JSON.parse(JSON.stringify(events[0])));
    expect(rows.map((r) => r.subject)).toEqual([...events, ...appended].map(subjectFor));
  });
});
