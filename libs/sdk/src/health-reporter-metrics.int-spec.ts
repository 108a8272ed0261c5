import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { isEvent, parseEnvelope, type Envelope, type EventOf } from '@autoheal/contracts';
import { expectEventually, readStream, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import { HealthReporter } from './health-reporter.js';

async function metricsOf(nc: NatsConnection, tenantId: string): Promise<EventOf<'health.metrics'>[]> {
  const events = await readStream<Envelope>(nc, 'HEALTH');
  for (const e of events) expect(parseEnvelope(e).ok).toBe(true);
  return events.filter((e): e is EventOf<'health.metrics'> => isEvent(e, 'health.metrics') && e.tenantId === tenantId);
}

describe('HealthReporter metrics against a real nats-server', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('sends one sample per window with requests, errors, latency, saturation and checks', async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'HEALTH', subjects: ['health.>'] });
    const reporter = await HealthReporter.connect({
      servers: server.url,
      tenantId: 'acme',
      service: 'api',
      instance: 'api-1',
      intervalMs: 1000,
      metricsIntervalMs: 200,
      memoryLimitBytes: 256 * 1024 * 1024,
    });
    let dbUp = true;
    reporter.registerCheck('database', () => Promise.resolve(dbUp));
    try {
      for (let i = 1; i <= 20; i++) reporter.recordRequest(i * 10, i <= 15);
      await expectEventually(async () => expect((await metricsOf(nc, 'acme')).length).toBeGreaterThanOrEqual(1));
      dbUp = false;
      await expectEventually(async () => {
        const samples = (await metricsOf(nc, 'acme')).flatMap((e) => e.data.samples);
        expect(samples.some((s) => s.checks?.[0]?.ok === false)).toBe(true);
      });
    } finally {
      await reporter.stop('test over');
    }
    const events = await metricsOf(nc, 'acme');
    expect(events[0]).toMatchObject({ data: { service: 'api', instance: 'api-1' } });
    const samples = events.flatMap((e) => e.data.samples);
    const withTraffic = samples.filter((s) => (s.requests ?? 0) > 0);
    expect(withTraffic).toHaveLength(1);
    expect(withTraffic[0]).toMatchObject({ requests: 20, errors: 5, latencyMs: { p50: 100, p90: 180, p99: 200 }, memoryLimitBytes: 256 * 1024 * 1024 });
    expect(withTraffic[0].checks).toEqual([{ name: 'database', ok: true }]);
    for (const s of samples) {
      expect(s.memoryBytes).toBeGreaterThan(0);
      expect(typeof s.cpu).toBe('number');
      expect(typeof s.eventLoopLagMs).toBe('number');
    }
    expect(reporter.stats).toMatchObject({ samplesBuffered: 0, samplesDropped: 0 });
    expect(reporter.stats.samplesPublished).toBe(samples.length);
  });

  it('buffers samples while nothing stores them and sends them later, in order, in batches of at most 100', async () => {
    const failures: string[] = [];
    const reporter = await HealthReporter.connect({
      servers: server.url,
      tenantId: 'globex',
      service: 'api',
      instance: 'api-1',
      intervalMs: 60_000,
      metricsIntervalMs: 100,
      maxBufferedSamples: 150,
      publishTimeoutMs: 300,
      onError: (_error, ctx) => failures.push(ctx.type),
    });
    const jsm = await jetstreamManager(nc);
    try {
      // No stream captures this tenant's subjects yet: every publish fails and samples pile up.
      await jsm.streams.update('HEALTH', { subjects: ['health.acme.>'] });
      await expectEventually(() => expect(reporter.stats.samplesBuffered).toBeGreaterThanOrEqual(8), { timeoutMs: 5_000 });
      expect(failures).toContain('health.metrics');
      await jsm.streams.update('HEALTH', { subjects: ['health.>'] });
      await expectEventually(async () => expect(reporter.stats.samplesBuffered).toBe(0), { timeoutMs: 5_000 });
    } finally {
      await reporter.stop();
    }
    const events = await metricsOf(nc, 'globex');
    const batched = events.find((e) => e.data.samples.length >= 8);
    expect(batched).toBeDefined();
    for (const e of events) expect(e.data.samples.length).toBeLessThanOrEqual(100);
    const times = events.flatMap((e) => e.data.samples.map((s) => Date.parse(s.at)));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times.length).toBe(reporter.stats.samples);
  });

  it('sends the samples of an outage after the server comes back', async () => {
    const reporter = await HealthReporter.connect({
      servers: server.url,
      tenantId: 'initech',
      service: 'api',
      instance: 'api-1',
      intervalMs: 60_000,
      metricsIntervalMs: 100,
      onError: () => undefined,
    });
    try {
      await expectEventually(async () => expect((await metricsOf(nc, 'initech')).length).toBeGreaterThanOrEqual(1));
      await nc.close();
      const down = Date.now();
      await server.restart({ downtimeMs: 1_000 });
      const up = Date.now();
      nc = await connect({ servers: server.url });
      // Every moment of the outage lies in the window of some stored sample: nothing of it is
      // lost. (How many samples that takes depends on timing: a window whose publish was in
      // flight when the server went away lasts until that publish gives up.)
      await expectEventually(
        async () => {
          const windows = (await metricsOf(nc, 'initech'))
            .flatMap((e) => e.data.samples)
            .map((s) => ({ end: Date.parse(s.at), start: Date.parse(s.at) - s.windowMs }))
            .sort((a, b) => a.start - b.start);
          let coveredUntil = windows[0]?.start ?? Number.POSITIVE_INFINITY;
          for (const w of windows) if (w.start <= coveredUntil + 1 && w.end > coveredUntil) coveredUntil = w.end;
          expect(windows[0]?.start ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(down);
          expect(coveredUntil).toBeGreaterThanOrEqual(up);
        },
        { timeoutMs: 15_000 },
      );
    } finally {
      await reporter.stop();
    }
    expect(reporter.stats.samplesDropped).toBe(0);
  });
});
