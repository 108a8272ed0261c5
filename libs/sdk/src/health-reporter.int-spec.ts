import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { parseEnvelope, type Envelope } from '@autoheal/contracts';
import { expectEventually, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import { HealthReporter } from './health-reporter.js';

interface Received {
  subject: string;
  msgId: string | undefined;
  event: Envelope;
}

/** Reads everything the HEALTH stream stores, in order, through an ordered consumer. */
async function collectStream(
  nc: NatsConnection,
): Promise<{ received: Received[]; invalid: string[]; stop: () => void }> {
  const received: Received[] = [];
  const invalid: string[] = [];
  const consumer = await jetstream(nc).consumers.get('HEALTH');
  const messages = await consumer.consume();
  void (async () => {
    for await (const m of messages as AsyncIterable<JsMsg>) {
      const parsed = parseEnvelope(m.json());
      if (!parsed.ok) invalid.push(`${m.subject}: ${parsed.error.message}`);
      else received.push({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id'), event: parsed.value });
    }
  })();
  return { received, invalid, stop: () => void messages.stop() };
}

describe('HealthReporter against a real nats-server', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'HEALTH', subjects: ['health.>'] });
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('sends the first heartbeat at once, then one per interval, as valid envelopes on the instance subject', async () => {
    const { received, invalid, stop } = await collectStream(nc);
    const mine = () => received.filter((r) => r.event.tenantId === 'acme-health');
    const reporter = await HealthReporter.connect({
      servers: server.url,
      tenantId: 'acme-health',
      service: 'patient-api',
      instance: 'patient-api-1',
      intervalMs: 100,
    });
    try {
      await expectEventually(() => expect(mine().length).toBeGreaterThanOrEqual(5), { timeoutMs: 5_000 });
    } finally {
      await reporter.stop('test over');
      stop();
    }
    expect(invalid).toEqual([]);
    const heartbeats = mine().filter((r) => r.event.type === 'health.heartbeat');
    for (const r of heartbeats) {
      expect(r.subject).toBe('health.acme-health.patient-api.patient-api-1');
      // `<tenant>:<id>:<tag>`, the tag keyed by the reporter's own secret (see HealthPublish).
      expect(r.msgId).toMatch(new RegExp(`^${r.event.tenantId}:${r.event.id}:[A-Za-z0-9_-]{22}$`));
      expect(r.event).toMatchObject({
        type: 'health.heartbeat',
        tenantId: 'acme-health',
        producer: 'patient-api/patient-api-1',
        data: { service: 'patient-api', instance: 'patient-api-1', intervalMs: 100 },
      });
    }
    const sequences = heartbeats.map((r) => (r.event as Envelope<'health.heartbeat'>).data.sequence);
    expect(sequences).toEqual(sequences.map((_, i) => i));
  });

  it('does not wait one interval before the first heartbeat', async () => {
    const { received, stop } = await collectStream(nc);
    const mine = () => received.filter((r) => r.event.tenantId === 'slow-tenant');
    const reporter = await HealthReporter.connect({
      servers: server.url,
      tenantId: 'slow-tenant',
      service: 'api',
      instance: 'api-1',
      intervalMs: 60_000,
    });
    try {
      await expectEventually(() => expect(mine().map((r) => r.event.type)).toEqual(['health.heartbeat']), { timeoutMs: 2_000 });
    } finally {
      await reporter.stop();
      stop();
    }
    expect((mine()[0].event as Envelope<'health.heartbeat'>).data).toMatchObject({ sequence: 0, intervalMs: 60_000 });
  });

  it('stop() sends health.stopping with the reason as the last event, then nothing more', async () => {
    const { received, stop } = await collectStream(nc);
    const reporter = await HealthReporter.connect({
      servers: server.url,
      tenantId: 'globex-pay',
      service: 'payments-api',
      instance: 'payments-api-1',
      intervalMs: 100,
    });
    const mine = () => received.filter((r) => r.event.tenantId === 'globex-pay');
    await expectEventually(() => expect(mine().length).toBeGreaterThanOrEqual(2));
    await reporter.stop('shutdown');
    await expectEventually(() => expect(mine().at(-1)?.event.type).toBe('health.stopping'));
    const countAtStop = mine().length;
    // Several intervals later nothing else has arrived: the heartbeat really stopped.
    await new Promise((resolve) => setTimeout(resolve, 400));
    stop();
    expect(mine()).toHaveLength(countAtStop);
    const last = mine().at(-1)!;
    expect(last.subject).toBe('health.globex-pay.payments-api.payments-api-1');
    expect(last.event.data).toEqual({ service: 'payments-api', instance: 'payments-api-1', reason: 'shutdown' });
    expect(reporter.stats.failed).toBe(0);
    // A second stop is harmless and sends nothing.
    await reporter.stop('again');
    expect(mine()).toHaveLength(countAtStop);
  });

  it('keeps heartbeating after the server restarts', async () => {
    const { received: before, stop: stopBefore } = await collectStream(nc);
    const errors: Error[] = [];
    const reporter = await HealthReporter.connect({
      servers: server.url,
      tenantId: 'initech-eu',
      service: 'ledger-api',
      instance: 'ledger-api-1',
      intervalMs: 100,
      onError: (error) => errors.push(error),
    });
    try {
      await expectEventually(() => expect(before.length).toBeGreaterThanOrEqual(1));
      stopBefore();
      await nc.close();
      await server.restart({ downtimeMs: 500 });
      nc = await connect({ servers: server.url });
      const jsm = await jetstreamManager(nc);
      const seqAfterRestart = (await jsm.streams.info('HEALTH')).state.last_seq;
      await expectEventually(
        async () => expect((await jsm.streams.info('HEALTH')).state.last_seq).toBeGreaterThan(seqAfterRestart + 3),
        { timeoutMs: 15_000 },
      );
    } finally {
      await reporter.stop();
    }
    // Heartbeats due while the server was down fail or are skipped; the host never saw an exception.
    expect(reporter.stats.published).toBeGreaterThan(4);
  });
});

describe('HealthReporter when nothing stores health events', () => {
  let server: NatsServerHandle;

  beforeAll(async () => {
    server = await startNatsServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('counts and reports failed publishes without throwing', async () => {
    const failures: { message: string; type: string; consecutive: number }[] = [];
    const reporter = await HealthReporter.connect({
      servers: server.url,
      tenantId: 'acme-health',
      service: 'patient-api',
      instance: 'patient-api-2',
      intervalMs: 100,
      publishTimeoutMs: 500,
      onError: (error, ctx) => failures.push({ message: error.message, type: ctx.type, consecutive: ctx.consecutiveFailures }),
    });
    await expectEventually(() => expect(failures.length).toBeGreaterThanOrEqual(3));
    await reporter.stop('shutdown');
    expect(failures.slice(0, 3).map((f) => f.consecutive)).toEqual([1, 2, 3]);
    expect(failures.at(-1)?.type).toBe('health.stopping');
    expect(reporter.stats.published).toBe(0);
    expect(reporter.stats.failed).toBe(failures.length);
  });
});
