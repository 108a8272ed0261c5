import type { NatsConnection } from '@nats-io/transport-node';
import type { DataSource, EntityManager, MigrationInterface, QueryRunner } from 'typeorm';
import { newEvent, newHealthDeduplicationSecret, STREAMS, type Envelope } from '@autoheal/contracts';
import {
  appendToOutbox,
  collectRowsForWriter,
  createDataSource,
  OutboxFastPath,
  OutboxRelay,
  outboxInboxMigrationSql,
  runMigrations,
  type OutboxRelayLogger,
  type OutboxRow,
} from '@autoheal/persistence';
import { createTestDatabase, expectEventually, readStream, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { closeNats, connectNats, EventPublisher, provisionStreams } from './index.js';

const SCHEMA = 'fast_path_test';
const healthDeduplicationSecret = newHealthDeduplicationSecret();

class FastPathTestInitial1700000000000 implements MigrationInterface {
  name = 'FastPathTestInitial1700000000000';
  async up(q: QueryRunner): Promise<void> {
    for (const sql of outboxInboxMigrationSql(SCHEMA).up) await q.query(sql);
  }
  async down(q: QueryRunner): Promise<void> {
    for (const sql of outboxInboxMigrationSql(SCHEMA).down) await q.query(sql);
  }
}

interface Logged {
  level: 'info' | 'warn' | 'error';
  msg?: string;
}

function recordingLogger(lines: Logged[]): OutboxRelayLogger {
  return {
    info: (_obj, msg) => lines.push({ level: 'info', msg }),
    warn: (_obj, msg) => lines.push({ level: 'warn', msg }),
    error: (_obj, msg) => lines.push({ level: 'error', msg }),
  };
}

describe('OutboxFastPath: the writer publishes after commit, the relay is the fallback (real Postgres and nats-server)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let db: TestDatabase;
  let dataSource: DataSource;
  let testNo = 0;
  const relays: OutboxRelay[] = [];
  const extraConnections: NatsConnection[] = [];

  beforeAll(async () => {
    [server, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    nc = await connectNats({ servers: server.url, name: 'fast-path-test', onClosedForGood: () => undefined });
    await provisionStreams(nc);
    dataSource = createDataSource({ url: db.url, schema: SCHEMA, migrations: [FastPathTestInitial1700000000000], applicationName: 'fast-path-test' });
    await runMigrations(dataSource);
  });

  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
    await Promise.all(extraConnections.splice(0).map((c) => closeNats(c).catch(() => undefined)));
    await dataSource.query(`DELETE FROM ${SCHEMA}.outbox`);
  });

  afterAll(async () => {
    if (dataSource?.isInitialized) await dataSource.destroy();
    await db?.drop();
    if (nc) await closeNats(nc);
    await server?.stop();
  });

  /** Events of an instance of their own, so each test reads only its own messages back from the shared stream. */
  function events(count: number): Envelope[] {
    const instance = `i-${++testNo}`;
    return Array.from({ length: count }, (_, i) =>
      newEvent('health.heartbeat', { tenantId: 'acme', producer: 'fast-path-test', data: { service: 'api', instance, intervalMs: 1000, sequence: i } }),
    );
  }

  /** The ids JetStream holds among `ofThese`, in stream order, repeats included. */
  async function storedIds(ofThese: readonly Envelope[]): Promise<string[]> {
    const mine = new Set(ofThese.map((e) => e.id));
    return (await readStream<Envelope>(nc, STREAMS.health.name)).map((e) => e.id).filter((id) => mine.has(id));
  }

  async function unpublishedIds(): Promise<string[]> {
    const rows: { id: string }[] = await dataSource.query(`SELECT id FROM ${SCHEMA}.outbox WHERE published_at IS NULL ORDER BY seq`);
    return rows.map((r) => r.id);
  }

  /**
   * A fast path and its relay, publishing through EventPublisher.publishStored as the services
   * do; the relay is not started unless a test starts it. `relayPublished` lists what the relay
   * published and whether JetStream called it a duplicate; `fastConnection` is what the fast path
   * publishes on, once `fastGate` is open.
   */
  function pair(
    opts: {
      fastConnection?: () => NatsConnection;
      fastGate?: Promise<void>;
      pollIntervalMs?: number;
      logs?: Logged[];
      /** Runs after each of the fast path's transactions committed, before the fast path's own code runs again. */
      afterCommit?: () => Promise<void>;
    } = {},
  ) {
    const relayPublished: { id: string; duplicate: boolean }[] = [];
    // One service's publishers share its health deduplication secret (in a service: derived from its signing key).
    const relayPublisher = new EventPublisher(nc, { healthDeduplicationSecret });
    const wired: { fastPath?: OutboxFastPath } = {};
    const relay = new OutboxRelay({
      dataSource,
      schema: SCHEMA,
      // As OutboxRelayModule wires them: the relay leaves the fast path's rows in flight alone.
      inFlightElsewhere: () => wired.fastPath?.inFlight() ?? [],
      publish: async (row: OutboxRow) => {
        const ack = await relayPublisher.publishStored(row);
        relayPublished.push({ id: row.id, duplicate: ack.duplicate });
      },
      logger: recordingLogger(opts.logs ?? []),
      pollIntervalMs: opts.pollIntervalMs ?? 60_000,
    });
    relays.push(relay);
    const fastConnection = opts.fastConnection ?? (() => nc);
    const afterCommit = opts.afterCommit;
    const fastDataSource = afterCommit ? committingThen(afterCommit) : dataSource;
    const fastPath = new OutboxFastPath({
      dataSource: fastDataSource,
      schema: SCHEMA,
      publish: async (row) => {
        await opts.fastGate;
        await new EventPublisher(fastConnection(), { healthDeduplicationSecret }).publishStored(row);
      },
      relay,
      logger: recordingLogger(opts.logs ?? []),
    });
    wired.fastPath = fastPath;
    return { relay, fastPath, relayPublished };
  }

  /** The data source, whose transactions run `then` once committed, before resolving. */
  function committingThen(then: () => Promise<void>): DataSource {
    const wrapped = Object.create(dataSource) as DataSource;
    wrapped.transaction = (async (work: (m: EntityManager) => Promise<unknown>) => {
      const out = await dataSource.transaction(work);
      await then();
      return out;
    }) as DataSource['transaction'];
    return wrapped;
  }

  it('publishes what a transaction appended once, in commit order, right after commit and without the relay', async () => {
    const { relay, fastPath, relayPublished } = pair();
    const batches = [events(3), events(1), events(2)];
    for (const batch of batches) await fastPath.transaction((m) => appendToOutbox(m, SCHEMA, batch));
    const all = batches.flat();

    // The relay never ran: only the fast path can have published these.
    await expectEventually(async () => expect(await storedIds(all)).toEqual(all.map((e) => e.id)), { timeoutMs: 3_000 });
    await fastPath.settle();
    expect(await unpublishedIds()).toEqual([]);

    // Marked published, so the fallback finds nothing to do.
    expect(await relay.flush()).toBe(true);
    expect(relayPublished).toEqual([]);
    expect(await storedIds(all)).toEqual(all.map((e) => e.id));
  });

  it('a relay poll between commit and the fast path’s publish leaves the row to the fast path: published once', async () => {
    let open!: () => void;
    const fastGate = new Promise<void>((resolve) => (open = resolve));
    const { relay, fastPath, relayPublished } = pair({ fastGate });
    const batch = events(2);
    await fastPath.transaction((m) => appendToOutbox(m, SCHEMA, batch));
    expect(fastPath.inFlight()).toEqual(batch.map((e) => e.id));

    // Committed and unpublished, but the fast path holds them: the relay finds nothing to do.
    expect(await relay.flush()).toBe(true);
    expect(relayPublished).toEqual([]);

    open();
    await fastPath.settle();
    expect(fastPath.inFlight()).toEqual([]);
    expect(await unpublishedIds()).toEqual([]);
    expect(relayPublished).toEqual([]);
    expect(await storedIds(batch)).toEqual(batch.map((e) => e.id));
  });

  it('holds the rows from before the commit: a relay poll right after the commit, before the fast path runs again, leaves them alone', async () => {
    let heldAtCommit: readonly string[] = [];
    let relayDrainedInGap: boolean | undefined;
    // The gap under test: the commit has landed, the fast path's own code has not run again yet.
    const { relay, fastPath, relayPublished } = pair({
      afterCommit: async () => {
        heldAtCommit = fastPath.inFlight();
        relayDrainedInGap = await relay.flush();
      },
    });

    const batch = events(2);
    await fastPath.transaction((m) => appendToOutbox(m, SCHEMA, batch));
    expect(heldAtCommit).toEqual(batch.map((e) => e.id));
    expect(relayDrainedInGap).toBe(true);
    await fastPath.settle();
    expect(relayPublished).toEqual([]);
    expect(await storedIds(batch)).toEqual(batch.map((e) => e.id));
  });

  it('returns what the work returned, once committed, and publishes nothing of a rolled-back transaction', async () => {
    const { relay, fastPath, relayPublished } = pair();
    const [kept] = events(1);
    const [doomed] = events(1);
    await expect(fastPath.transaction(async (m) => (await appendToOutbox(m, SCHEMA, [kept]), 'committed'))).resolves.toBe('committed');
    await expect(
      fastPath.transaction(async (m) => {
        await appendToOutbox(m, SCHEMA, [doomed]);
        throw new Error('state change failed');
      }),
    ).rejects.toThrow('state change failed');
    await fastPath.settle();
    await relay.flush();

    expect(await storedIds([kept, doomed])).toEqual([kept.id]);
    expect(relayPublished).toEqual([]);
    expect(await dataSource.query(`SELECT id FROM ${SCHEMA}.outbox WHERE id = $1`, [doomed.id])).toEqual([]);
  });

  it('leaves what was appended in a savepoint to the relay: the writer cannot tell whether it survived', async () => {
    const { relay, fastPath, relayPublished } = pair();
    const [rolledBack] = events(1);
    const [released] = events(1);
    const [top] = events(1);
    await fastPath.transaction(async (m) => {
      await m
        .transaction(async (inner) => {
          await appendToOutbox(inner, SCHEMA, [rolledBack]);
          throw new Error('only the savepoint fails');
        })
        .catch(() => undefined);
      await m.transaction((inner) => appendToOutbox(inner, SCHEMA, [released]));
      await appendToOutbox(m, SCHEMA, [top]);
    });
    await fastPath.settle();
    expect(await storedIds([rolledBack, released, top])).toEqual([top.id]);

    await relay.flush();
    expect(relayPublished).toEqual([{ id: released.id, duplicate: false }]);
    expect(await storedIds([rolledBack, released, top])).toEqual([top.id, released.id]);
  });

  it('when the publish after commit fails, the relay publishes that row and the later ones in order, then the fast path resumes', async () => {
    const logs: Logged[] = [];
    const broken = await connectNats({ servers: server.url, name: 'fast-path-broken', onClosedForGood: () => undefined });
    await closeNats(broken);
    let fastConnection = broken;
    let openGate!: () => void;
    const fastGate = new Promise<void>((resolve) => (openGate = resolve));
    const { fastPath, relayPublished } = pair({ fastConnection: () => fastConnection, fastGate, logs });

    // Both committed before the first publish is tried: the second waits in line behind the first.
    const [first] = events(1);
    const [second] = events(1);
    await fastPath.transaction((m) => appendToOutbox(m, SCHEMA, [first]));
    await fastPath.transaction((m) => appendToOutbox(m, SCHEMA, [second]));
    openGate();
    await fastPath.settle();

    // The relay was never started: the failed publish itself handed the rows over to it.
    expect(relayPublished.map((p) => p.id)).toEqual([first.id, second.id]);
    expect(await storedIds([first, second])).toEqual([first.id, second.id]);
    expect(await unpublishedIds()).toEqual([]);
    expect(logs).toEqual([
      { level: 'warn', msg: expect.stringMatching(/publish after commit failed/) as string },
      { level: 'info', msg: expect.stringMatching(/caught up/) as string },
    ]);

    // The broker is back: the next transaction goes out through the fast path again.
    fastConnection = nc;
    const [third] = events(1);
    await fastPath.transaction((m) => appendToOutbox(m, SCHEMA, [third]));
    await fastPath.settle();
    expect(relayPublished.map((p) => p.id)).toEqual([first.id, second.id]);
    expect(await storedIds([first, second, third])).toEqual([first.id, second.id, third.id]);
  });

  it('a writer that died between commit and publish: its rows, which woke nobody, go out on the relay poll', async () => {
    const { relay, relayPublished } = pair({ pollIntervalMs: 200 });
    await relay.start();
    await relay.flush();
    const orphaned = events(2);
    // What OutboxFastPath.transaction does, minus the publish after commit.
    await dataSource.transaction(async (m) => {
      collectRowsForWriter(m, SCHEMA);
      await appendToOutbox(m, SCHEMA, orphaned);
    });
    await expectEventually(async () => expect(await storedIds(orphaned)).toEqual(orphaned.map((e) => e.id)), { timeoutMs: 3_000 });
    expect(relayPublished.map((p) => p.id)).toEqual(orphaned.map((e) => e.id));
  });

  it('a row the relay publishes again after the fast path did (its mark lost) is stored once', async () => {
    const { relay, fastPath, relayPublished } = pair();
    const [event] = events(1);
    await fastPath.transaction((m) => appendToOutbox(m, SCHEMA, [event]));
    await fastPath.settle();
    // As if the asynchronously committed mark had been lost in a crash.
    await dataSource.query(`UPDATE ${SCHEMA}.outbox SET published_at = NULL WHERE id = $1`, [event.id]);

    await relay.flush();
    expect(relayPublished).toEqual([{ id: event.id, duplicate: true }]);
    expect(await storedIds([event])).toEqual([event.id]);
    expect(await unpublishedIds()).toEqual([]);
  });
});
