import { context, propagation, trace } from '@opentelemetry/api';
import { node } from '@opentelemetry/sdk-node';
import { expectEventually } from '@autoheal/testing';
import { appendToOutbox } from './outbox.js';
import { OutboxRelay, type OutboxRelayLogger, type OutboxRow } from './outbox-relay.js';
import { heartbeat, openPersistenceTestDb, TEST_SCHEMA, type PersistenceTestDb } from './test-support/persistence-test-db.js';

interface LoggedLine {
  level: 'info' | 'warn' | 'error';
  obj: object;
  msg?: string;
}

function recordingLogger(lines: LoggedLine[]): OutboxRelayLogger {
  return {
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
}

describe('outbox and OutboxRelay (real Postgres)', () => {
  let t: PersistenceTestDb;
  const relays: OutboxRelay[] = [];

  beforeAll(async () => {
    t = await openPersistenceTestDb();
  });

  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
    await t.dataSource.query(`DELETE FROM ${TEST_SCHEMA}.outbox`);
  });

  afterAll(async () => {
    await t.close();
  });

  function relay(publish: (row: OutboxRow) => Promise<void>, opts: { pollIntervalMs?: number; logs?: LoggedLine[] } = {}) {
    const r = new OutboxRelay({
      dataSource: t.dataSource,
      schema: TEST_SCHEMA,
      publish,
      logger: recordingLogger(opts.logs ?? []),
      // Long by default: these tests prove that NOTIFY alone delivers promptly.
      pollIntervalMs: opts.pollIntervalMs ?? 60_000,
    });
    relays.push(r);
    return r;
  }

  async function unpublishedIds(): Promise<string[]> {
    const rows: { id: string }[] = await t.dataSource.query(
      `SELECT id FROM ${TEST_SCHEMA}.outbox WHERE published_at IS NULL ORDER BY seq`,
    );
    return rows.map((r) => r.id);
  }

  it('publishes committed events once, in order, promptly on NOTIFY', async () => {
    const published: OutboxRow[] = [];
    const r = relay(async (row) => void published.push(row));
    await r.start();
    await r.flush(); // idle from here on: nothing but a NOTIFY wakes it up

    const first = [heartbeat(1), heartbeat(2), heartbeat(3)];
    const second = [heartbeat(4), heartbeat(5)];
    await t.dataSource.transaction((m) => appendToOutbox(m, TEST_SCHEMA, first));
    await t.dataSource.transaction((m) => appendToOutbox(m, TEST_SCHEMA, second));

    const expected = [...first, ...second].map((e) => e.id);
    // The poll is a minute away: only the NOTIFY can make this pass in time.
    await expectEventually(() => expect(published.map((row) => row.id)).toEqual(expected), { timeoutMs: 3_000 });
    expect(published[0]).toEqual({
      id: first[0].id,
      subject: 'health.acme.api.i-1',
      payload: first[0],
      headers: {},
    });
    await expectEventually(async () => expect(await unpublishedIds()).toEqual([]));

    // Going round again publishes nothing twice.
    await r.flush();
    expect(published.map((row) => row.id)).toEqual(expected);
  });

  it('never publishes events whose transaction rolled back', async () => {
    const published: string[] = [];
    const r = relay(async (row) => void published.push(row.id));
    await r.start();
    await r.flush();

    const doomed = heartbeat(1);
    await expect(
      t.dataSource.transaction(async (m) => {
        await appendToOutbox(m, TEST_SCHEMA, [doomed]);
        throw new Error('state change failed');
      }),
    ).rejects.toThrow('state change failed');
    const kept = heartbeat(2);
    await t.dataSource.transaction((m) => appendToOutbox(m, TEST_SCHEMA, [kept]));

    await expectEventually(() => expect(published).toEqual([kept.id]), { timeoutMs: 3_000 });
    await r.flush();
    expect(published).toEqual([kept.id]);
    const stored: unknown[] = await t.dataSource.query(`SELECT id FROM ${TEST_SCHEMA}.outbox WHERE id = $1`, [doomed.id]);
    expect(stored).toEqual([]);
  });

  it('picks up rows committed before it started, and on the poll when no NOTIFY comes', async () => {
    const before = heartbeat(1);
    await t.dataSource.transaction((m) => appendToOutbox(m, TEST_SCHEMA, [before]));
    const published: string[] = [];
    await relay(async (row) => void published.push(row.id), { pollIntervalMs: 200 }).start();
    await expectEventually(() => expect(published).toEqual([before.id]), { timeoutMs: 3_000 });

    // A row inserted without the NOTIFY (as if the notification were lost) still goes out.
    const silent = heartbeat(2);
    await t.dataSource.query(
      `INSERT INTO ${TEST_SCHEMA}.outbox (id, subject, payload) VALUES ($1, 'health.acme.api.i-1', $2::jsonb)`,
      [silent.id, JSON.stringify(silent)],
    );
    await expectEventually(() => expect(published).toEqual([before.id, silent.id]), { timeoutMs: 3_000 });
  });

  it('stops the batch at a failed publish and retries from that row, keeping order', async () => {
    const events = [heartbeat(1), heartbeat(2), heartbeat(3)];
    const attempts: string[] = [];
    const published: string[] = [];
    let failNext = true;
    const logs: LoggedLine[] = [];
    const r = relay(
      async (row) => {
        attempts.push(row.id);
        if (row.id === events[1].id && failNext) {
          failNext = false;
          throw new Error('broker unavailable');
        }
        published.push(row.id);
      },
      { logs },
    );
    await t.dataSource.transaction((m) => appendToOutbox(m, TEST_SCHEMA, events));

    await r.flush();
    expect(attempts).toEqual([events[0].id, events[1].id]);
    expect(await unpublishedIds()).toEqual([events[1].id, events[2].id]);
    expect(logs).toEqual([
      expect.objectContaining({ level: 'error', obj: expect.objectContaining({ eventId: events[1].id }) as object }),
    ]);

    await r.flush();
    expect(published).toEqual(events.map((e) => e.id));
    expect(await unpublishedIds()).toEqual([]);
  });

  it('lets several relays share one outbox without duplicates or reordering', async () => {
    const published: string[] = [];
    const publish = async (row: OutboxRow) => {
      // Slow enough that the relays' batches would overlap if they did not take turns.
      await new Promise((resolve) => setTimeout(resolve, 1));
      published.push(row.id);
    };
    await Promise.all([relay(publish, { pollIntervalMs: 100 }), relay(publish, { pollIntervalMs: 100 }), relay(publish, { pollIntervalMs: 100 })].map((r) => r.start()));

    const byWriter: string[][] = [];
    const writers = Array.from({ length: 5 }, async (_, w) => {
      byWriter[w] = [];
      for (let tx = 0; tx < 10; tx++) {
        const events = Array.from({ length: 5 }, (__, i) => heartbeat(w * 1000 + tx * 10 + i));
        await t.dataSource.transaction((m) => appendToOutbox(m, TEST_SCHEMA, events));
        byWriter[w].push(...events.map((e) => e.id));
      }
    });
    await Promise.all(writers);

    await expectEventually(() => expect(published).toHaveLength(250), { timeoutMs: 15_000 });
    expect(new Set(published).size).toBe(250);
    // Each writer's events come out in the order it wrote them (writers race each other, so
    // only their own order is defined).
    for (const ids of byWriter) {
      const mine = new Set(ids);
      expect(published.filter((id) => mine.has(id))).toEqual(ids);
    }
    await relays[0].flush();
    expect(published).toHaveLength(250);
  });

  it('stop() waits for the batch in flight to commit', async () => {
    const published: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inPublish = new Promise<void>((resolve) => (entered = resolve));
    const r = relay(async (row) => {
      entered();
      await gate;
      published.push(row.id);
    });
    await r.start();
    const event = heartbeat(1);
    await t.dataSource.transaction((m) => appendToOutbox(m, TEST_SCHEMA, [event]));
    await inPublish;

    let stopped = false;
    const stopping = r.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(published).toEqual([event.id]);
    expect(await unpublishedIds()).toEqual([]);

    // Stopped means stopped: a later commit is left for the next relay.
    const later = heartbeat(2);
    await t.dataSource.transaction((m) => appendToOutbox(m, TEST_SCHEMA, [later]));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(published).toEqual([event.id]);
    expect(await unpublishedIds()).toEqual([later.id]);
  });

  it('re-listens after losing its connection, and catches up on what was committed meanwhile', async () => {
    const published: string[] = [];
    const logs: LoggedLine[] = [];
    const r = relay(async (row) => void published.push(row.id), { logs });
    await r.start();
    await r.flush();
    const listenerPids = async () =>
      (
        await t.dataSource.query<{ pid: number }[]>(
          `SELECT pid FROM pg_stat_activity WHERE application_name = 'persistence-test-outbox-listener'`,
        )
      ).map((row) => row.pid);
    const [original] = await listenerPids();
    expect(original).toEqual(expect.any(Number));

    await t.dataSource.query(`SELECT pg_terminate_backend($1)`, [original]);
    const meanwhile = heartbeat(1);
    await t.dataSource.transaction((m) => appendToOutbox(m, TEST_SCHEMA, [meanwhile]));

    // The poll is a minute away: the reconnected listener itself must catch up.
    await expectEventually(() => expect(published).toEqual([meanwhile.id]), { timeoutMs: 5_000 });
    const [replacement] = await listenerPids();
    expect(replacement).not.toBe(original);
    expect(logs.some((l) => l.level === 'warn' && /listener disconnected/.test(l.msg ?? ''))).toBe(true);

    const after = heartbeat(2);
    await t.dataSource.transaction((m) => appendToOutbox(m, TEST_SCHEMA, [after]));
    await expectEventually(() => expect(published).toEqual([meanwhile.id, after.id]), { timeoutMs: 3_000 });
  });

  it('stores the W3C trace context of the active span with each row', async () => {
    // What the telemetry preload sets up in a service: a context manager and the W3C propagator.
    new node.NodeTracerProvider().register();
    try {
      const event = heartbeat(1);
      const span = trace.getTracer('test').startSpan('state change');
      await context.with(trace.setSpan(context.active(), span), () =>
        t.dataSource.transaction((m) => appendToOutbox(m, TEST_SCHEMA, [event])),
      );
      span.end();
      const { traceId, spanId } = span.spanContext();

      const published: OutboxRow[] = [];
      await relay(async (row) => void published.push(row)).flush();
      expect(published.map((r) => r.headers)).toEqual([{ traceparent: `00-${traceId}-${spanId}-01` }]);
    } finally {
      trace.disable();
      context.disable();
      propagation.disable();
    }
  });

  it('refuses to append outside a transaction', async () => {
    await expect(appendToOutbox(t.dataSource.manager, TEST_SCHEMA, [heartbeat(1)])).rejects.toThrow(/inside a transaction/);
    expect(await unpublishedIds()).toEqual([]);
  });
});
