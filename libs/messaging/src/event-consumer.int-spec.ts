import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { deadLetterRecord, newEvent, STREAMS, type DeadLetterRecord, type Envelope } from '@autoheal/contracts';
import { Client } from 'pg';
import { createTestDatabase, expectEventually, readStream, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { closeNats, connectNats, EventPublisher, MAX_ACKS_PER_WRITE, PermanentError, provisionStreams, startConsumer, StoreFailure, TransientError, type RunningConsumer } from './index.js';

const spans = new InMemorySpanExporter();
const sdk = new NodeSDK({ spanProcessors: [new SimpleSpanProcessor(spans)], instrumentations: [] });

function heartbeat(instance: string, sequence = 1) {
  return newEvent('health.heartbeat', { tenantId: 'acme', producer: 'test', data: { service: 'api', instance, intervalMs: 1000, sequence } });
}

async function deadLetters(nc: NatsConnection): Promise<DeadLetterRecord[]> {
  return (await readStream<unknown>(nc, STREAMS.deadLetter.name)).map((r) => deadLetterRecord.parse(r));
}

describe('JetStream consumer (real nats-server)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let consumer: RunningConsumer | undefined;

  beforeAll(async () => {
    sdk.start();
    server = await startNatsServer();
    nc = await connectNats({ servers: server.url, name: 'messaging-test', onClosedForGood: () => undefined });
    await provisionStreams(nc);
  });

  afterEach(async () => {
    await consumer?.stop();
    consumer = undefined;
    spans.reset();
  });

  afterAll(async () => {
    await closeNats(nc);
    await server.stop();
    await sdk.shutdown();
  });

  it('delivers a valid event once and stores a republished event id once', async () => {
    const received: Envelope[] = [];
    consumer = await startConsumer(nc, { stream: 'health', durable: 'valid-test', filterSubject: 'health.acme.api.i-valid' }, async (e) => {
      received.push(e);
    });
    const publisher = new EventPublisher(nc);
    const event = heartbeat('i-valid');
    const first = await publisher.publish(event);
    const second = await publisher.publish(event);
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    await expectEventually(() => expect(received.map((e) => e.id)).toEqual([event.id]));
  });

  it('keeps a message that a handler works on for longer than the ack wait: delivered once', async () => {
    const deliveries: number[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    consumer = await startConsumer(nc, { stream: 'health', durable: 'slow-test', filterSubject: 'health.acme.api.i-slow', ackWaitMs: 600, concurrency: 2 }, async (_e, ctx) => {
      deliveries.push(ctx.deliveryCount);
      await held;
    });
    await new EventPublisher(nc).publish(heartbeat('i-slow'));
    await expectEventually(() => expect(deliveries).toEqual([1]));
    // Three ack waits: without the in-progress acks the server would have redelivered it by now.
    await new Promise((resolve) => setTimeout(resolve, 1_800));
    release();
    await expectEventually(async () => {
      const info = await (await jetstreamManager(nc)).consumers.info(STREAMS.health.name, 'slow-test');
      expect(info.num_ack_pending).toBe(0);
    });
    expect(deliveries).toEqual([1]);
  });

  it('dead-letters malformed payloads with their reason and keeps consuming', async () => {
    const received: Envelope[] = [];
    consumer = await startConsumer(nc, { stream: 'health', durable: 'invalid-test', filterSubject: 'health.acme.api.i-bad' }, async (e) => {
      received.push(e);
    });
    const js = jetstream(nc);
    const enc = new TextEncoder();
    const badInterval = { ...heartbeat('i-bad'), data: { service: 'api', instance: 'i-bad', intervalMs: 5, sequence: 1 } };
    const wrongSubject = heartbeat('someone-else');
    await js.publish('health.acme.api.i-bad', enc.encode('{not json'));
    await js.publish('health.acme.api.i-bad', enc.encode(JSON.stringify(badInterval)));
    await js.publish('health.acme.api.i-bad', enc.encode(JSON.stringify(wrongSubject)));
    // Nested 5,000 deep: refused before it is parsed, on its first delivery, whatever the schema.
    const deep = JSON.stringify(heartbeat('i-bad', 3)).replace(/}$/, `,"x":${'['.repeat(5_000)}${']'.repeat(5_000)}}`);
    await js.publish('health.acme.api.i-bad', enc.encode(deep));
    const good = heartbeat('i-bad', 2);
    await new EventPublisher(nc).publish(good);

    await expectEventually(() => expect(received.map((e) => e.id)).toEqual([good.id]));
    await expectEventually(async () => {
      const records = (await deadLetters(nc)).filter((r) => r.consumer === 'invalid-test');
      expect(records.map((r) => r.reason)).toEqual(['invalid_payload', 'invalid_payload', 'invalid_payload', 'invalid_payload']);
      expect(records[0].detail).toMatch(/not JSON/);
      expect(records[1].detail).toMatch(/data\.intervalMs/);
      expect(records[2].detail).toMatch(/does not match/);
      expect(records[3]).toMatchObject({ detail: 'payload nests deeper than 64 levels', deliveries: 1 });
      expect(records[0].payload).toBe('{not json');
    });
  });

  it('retries a transient failure and dead-letters past MaxDeliver and on permanent errors', async () => {
    const attempts = new Map<string, number>();
    consumer = await startConsumer(
      nc,
      { stream: 'health', durable: 'retry-test', filterSubject: 'health.acme.retry.>', maxDeliver: 3 },
      async (e) => {
        const n = (attempts.get(e.id) ?? 0) + 1;
        attempts.set(e.id, n);
        if (e.type !== 'health.heartbeat') return;
        if (e.data.instance === 'flaky' && n === 1) throw new TransientError('db_down', 'database unavailable');
        if (e.data.instance === 'broken') throw new TransientError('db_down', 'still down');
        if (e.data.instance === 'poison') throw new PermanentError('unsupported', 'cannot ever handle this');
      },
    );
    const publisher = new EventPublisher(nc);
    const mk = (instance: string) => newEvent('health.heartbeat', { tenantId: 'acme', producer: 'test', data: { service: 'retry', instance, intervalMs: 1000, sequence: 1 } });
    const flaky = mk('flaky');
    const broken = mk('broken');
    const poison = mk('poison');
    for (const e of [flaky, broken, poison]) await publisher.publish(e);

    await expectEventually(async () => {
      expect(attempts.get(flaky.id)).toBe(2);
      expect(attempts.get(broken.id)).toBe(3);
      expect(attempts.get(poison.id)).toBe(1);
      const records = (await deadLetters(nc)).filter((r) => r.consumer === 'retry-test');
      expect(records.map((r) => [r.subject, r.reason]).sort()).toEqual([
        ['health.acme.retry.broken', 'max_deliver_exceeded'],
        ['health.acme.retry.poison', 'handler_rejected'],
      ]);
    }, { timeoutMs: 15_000 });
  });

  it('continues the producer trace in the consumer span', async () => {
    const seen: string[] = [];
    consumer = await startConsumer(nc, { stream: 'health', durable: 'trace-test', filterSubject: 'health.acme.api.i-trace' }, async () => {
      seen.push(trace.getSpan(context.active())?.spanContext().traceId ?? 'none');
    });
    const tracer = trace.getTracer('test');
    const root = tracer.startSpan('incident root');
    await context.with(trace.setSpan(context.active(), root), () => new EventPublisher(nc).publish(heartbeat('i-trace')));
    root.end();
    await expectEventually(() => expect(seen).toEqual([root.spanContext().traceId]));
    const names = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === root.spanContext().traceId).map((s) => s.name);
    // Named by operation and subject template (the OpenTelemetry messaging conventions).
    expect(names).toEqual(expect.arrayContaining(['incident root', 'publish health.{tenant}.{service}.{instance}', 'process health.{tenant}.{service}.{instance}']));
  });

  it('handles a message without trace context outside any span, and records a span only when it fails', async () => {
    const activeSpans: (string | undefined)[] = [];
    consumer = await startConsumer(nc, { stream: 'health', durable: 'untraced-test', filterSubject: 'health.acme.api.i-untraced' }, async () => {
      activeSpans.push(trace.getSpan(context.active())?.spanContext().traceId);
    });
    const js = jetstream(nc);
    const enc = new TextEncoder();
    // As our SDK's health reporter publishes: a message id, no trace headers.
    const good = heartbeat('i-untraced');
    await js.publish('health.acme.api.i-untraced', enc.encode(JSON.stringify(good)), { msgID: good.id });
    await js.publish('health.acme.api.i-untraced', enc.encode('{not json'));
    await expectEventually(async () => {
      expect(activeSpans).toEqual([undefined]);
      expect((await deadLetters(nc)).filter((r) => r.consumer === 'untraced-test')).toHaveLength(1);
    });
    const consumerSpans = spans.getFinishedSpans().filter((s) => s.name === 'process health.{tenant}.{service}.{instance}' && s.attributes['messaging.destination.name'] === 'health.acme.api.i-untraced');
    expect(consumerSpans).toHaveLength(1);
    expect(consumerSpans[0].status.code).toBe(SpanStatusCode.ERROR);
    expect(consumerSpans[0].attributes['autoheal.outcome']).toBe('dead_letter');
  });

  it('acks a message whose subject it does not accept without reading it, and only handles the rest', async () => {
    const received: string[] = [];
    consumer = await startConsumer(
      nc,
      { stream: 'health', durable: 'accept-test', filterSubject: 'health.acme.part.>', accept: (subject) => !subject.endsWith('.theirs') },
      async (e) => {
        if (e.type === 'health.heartbeat') received.push(e.data.instance);
      },
    );
    const js = jetstream(nc);
    const enc = new TextEncoder();
    const mk = (instance: string) => newEvent('health.heartbeat', { tenantId: 'acme', producer: 'test', data: { service: 'part', instance, intervalMs: 1000, sequence: 1 } });
    // Not even JSON: an accepted subject would dead-letter it; a refused one is acked unread.
    await js.publish('health.acme.part.theirs', enc.encode('{not json'));
    await new EventPublisher(nc).publish(mk('theirs'));
    await new EventPublisher(nc).publish(mk('ours'));
    await expectEventually(async () => {
      expect(received).toEqual(['ours']);
      const info = await (await jetstreamManager(nc)).consumers.info(STREAMS.health.name, 'accept-test');
      expect(info.num_pending + info.num_ack_pending).toBe(0);
      expect(info.ack_floor.consumer_seq).toBe(3);
    });
    expect((await deadLetters(nc)).filter((r) => r.consumer === 'accept-test')).toEqual([]);
    expect(spans.getFinishedSpans().filter((s) => s.kind === SpanKind.CONSUMER && s.attributes['messaging.destination.name'] === 'health.acme.part.theirs')).toEqual([]);
  });

  it('acks a long run of messages once each, and none before its handler completed', async () => {
    const count = MAX_ACKS_PER_WRITE * 2 + 10;
    const seen = new Set<number>();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    consumer = await startConsumer(nc, { stream: 'health', durable: 'batch-test', filterSubject: 'health.acme.batch.>' }, async (e) => {
      if (e.type !== 'health.heartbeat') return;
      if (e.data.sequence === count) await held; // the last one waits until released
      seen.add(e.data.sequence);
    });
    const js = jetstream(nc);
    const enc = new TextEncoder();
    const events = Array.from({ length: count }, (_, i) => newEvent('health.heartbeat', { tenantId: 'acme', producer: 'test', data: { service: 'batch', instance: 'b', intervalMs: 1000, sequence: i + 1 } }));
    await Promise.all(events.map((e) => js.publish('health.acme.batch.b', enc.encode(JSON.stringify(e)), { msgID: e.id })));
    const jsm = await jetstreamManager(nc);
    // Everything but the held message is acked; the held one is not, while its handler runs.
    await expectEventually(async () => {
      const info = await jsm.consumers.info(STREAMS.health.name, 'batch-test');
      expect(info.num_ack_pending).toBe(1);
      expect(info.ack_floor.consumer_seq).toBe(count - 1);
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await jsm.consumers.info(STREAMS.health.name, 'batch-test')).num_ack_pending).toBe(1);
    release();
    await expectEventually(async () => {
      const info = await jsm.consumers.info(STREAMS.health.name, 'batch-test');
      expect(info.num_ack_pending).toBe(0);
      expect(info.num_redelivered).toBe(0);
    });
    expect(seen.size).toBe(count);
  });

  it('lets a due timer run between synchronous handlers instead of after the whole pulled batch', async () => {
    const count = 300;
    const js = jetstream(nc);
    const enc = new TextEncoder();
    const events = Array.from({ length: count }, (_, i) => newEvent('health.heartbeat', { tenantId: 'acme', producer: 'test', data: { service: 'yield', instance: 'y', intervalMs: 1000, sequence: i + 1 } }));
    // Stored before the consumer starts, so its first pull brings them in one burst.
    await Promise.all(events.map((e) => js.publish('health.acme.yield.y', enc.encode(JSON.stringify(e)), { msgID: e.id })));
    let handled = 0;
    let handledWhenTimerRan: number | undefined;
    consumer = await startConsumer(nc, { stream: 'health', durable: 'yield-test', filterSubject: 'health.acme.yield.y', pullBatch: 512, concurrency: 8 }, () => {
      // A timer due at once (a heartbeat deadline, say) as the first message is handled.
      if (handled === 0) setTimeout(() => (handledWhenTimerRan = handled), 0);
      const busyUntil = performance.now() + 1; // a handler that keeps the thread for 1 ms
      while (performance.now() < busyUntil);
      handled++;
      return undefined;
    });
    await expectEventually(() => expect(handled).toBe(count));
    // A slice is MAX_SYNC_SLICE_MS (2 ms): the timer runs after a few handlers, not after hundreds.
    expect(handledWhenTimerRan).toBeLessThan(20);
  });

  it('keeps the headers of a message it dead-letters', async () => {
    consumer = await startConsumer(nc, { stream: 'health', durable: 'headers-test', filterSubject: 'health.acme.api.i-hdr' }, async () => undefined);
    const h = natsHeaders();
    h.set('x-producer', 'legacy');
    await jetstream(nc).publish('health.acme.api.i-hdr', new TextEncoder().encode('[]'), { headers: h });
    await expectEventually(async () => {
      const record = (await deadLetters(nc)).find((r) => r.consumer === 'headers-test');
      expect(record?.headers['x-producer']).toEqual(['legacy']);
    });
  });

  describe('with a real Postgres', () => {
    let db: TestDatabase;
    let pg: Client;

    beforeAll(async () => {
      db = await createTestDatabase();
      pg = new Client({ connectionString: db.url });
      await pg.connect();
      await pg.query('CREATE TABLE poison_test (event_id text PRIMARY KEY, small smallint, doc jsonb, note text)');
    });

    afterAll(async () => {
      await pg.end();
      await db.drop();
    });

    it('dead-letters an event the database refuses for its content on its first delivery, with the SQLSTATE, and goes on to the next', async () => {
      const attempts = new Map<string, number>();
      consumer = await startConsumer(nc, { stream: 'health', durable: 'poison-test', filterSubject: 'health.acme.poison.>', maxDeliver: 5 }, async (e) => {
        attempts.set(e.id, (attempts.get(e.id) ?? 0) + 1);
        if (e.type === 'health.heartbeat') {
          // Unwrapped, as a handler that maps nothing would throw it: 22003, numeric out of range for smallint.
          await pg.query('INSERT INTO poison_test (event_id, small) VALUES ($1, $2)', [e.id, e.data.intervalMs]);
          return;
        }
        if (e.type !== 'health.stopping') return;
        try {
          // \u0000 is valid JSON and valid for the contract; jsonb refuses it (22P05), text too (22021).
          if (e.data.instance === 'text') await pg.query('INSERT INTO poison_test (event_id, note) VALUES ($1, $2)', [e.id, e.data.reason]);
          else await pg.query('INSERT INTO poison_test (event_id, doc) VALUES ($1, $2::jsonb)', [e.id, JSON.stringify(e.data)]);
        } catch (error) {
          throw new StoreFailure('test_store_unavailable', error);
        }
      });
      const publisher = new EventPublisher(nc);
      const stop = (instance: string, reason: string) => newEvent('health.stopping', { tenantId: 'acme', producer: 'test', data: { service: 'poison', instance, reason } });
      const nulInJsonb = stop('jsonb', 'bad\u0000byte');
      const nulInText = stop('text', 'bad\u0000byte');
      const outOfRange = newEvent('health.heartbeat', { tenantId: 'acme', producer: 'test', data: { service: 'poison', instance: 'range', intervalMs: 600_000, sequence: 1 } });
      const good = stop('good', 'deploy');
      for (const e of [nulInJsonb, nulInText, outOfRange, good]) await publisher.publish(e);

      await expectEventually(async () => {
        const { rows } = await pg.query<{ event_id: string }>('SELECT event_id FROM poison_test');
        expect(rows.map((r) => r.event_id)).toEqual([good.id]);
        const records = (await deadLetters(nc)).filter((r) => r.consumer === 'poison-test');
        expect(records.map((r) => [r.subject, r.reason, r.deliveries, r.detail.match(/SQLSTATE (\w+)/)?.[1]])).toEqual([
          ['health.acme.poison.jsonb', 'store_rejected', 1, '22P05'],
          ['health.acme.poison.text', 'store_rejected', 1, '22021'],
          ['health.acme.poison.range', 'store_rejected', 1, '22003'],
        ]);
      });
      expect([nulInJsonb, nulInText, outOfRange, good].map((e) => attempts.get(e.id))).toEqual([1, 1, 1, 1]);
    });
  });
});
