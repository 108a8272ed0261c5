import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { context, trace } from '@opentelemetry/api';
import { deadLetterRecord, newEvent, STREAMS, type DeadLetterRecord, type Envelope } from '@autoheal/contracts';
import { expectEventually, readStream, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import { closeNats, connectNats, EventPublisher, PermanentError, provisionStreams, startConsumer, TransientError, type RunningConsumer } from './index.js';

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
    const good = heartbeat('i-bad', 2);
    await new EventPublisher(nc).publish(good);

    await expectEventually(() => expect(received.map((e) => e.id)).toEqual([good.id]));
    await expectEventually(async () => {
      const records = (await deadLetters(nc)).filter((r) => r.consumer === 'invalid-test');
      expect(records.map((r) => r.reason)).toEqual(['invalid_payload', 'invalid_payload', 'invalid_payload']);
      expect(records[0].detail).toMatch(/not JSON/);
      expect(records[1].detail).toMatch(/data\.intervalMs/);
      expect(records[2].detail).toMatch(/does not match/);
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
    expect(names).toEqual(expect.arrayContaining(['incident root', 'health.acme.api.i-trace publish']));
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
});
