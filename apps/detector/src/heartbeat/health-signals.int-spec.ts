import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { isEvent, newEvent, STREAMS, type Envelope, type EventOf, type EventType, type MetricSample } from '@autoheal/contracts';
import { closeNats, connectNats, EventPublisher, provisionStreams } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, readStream, startNatsServer, type NatsServerHandle, type TestDatabase, createTestKeys } from '@autoheal/testing';
import { loadConfig } from '../config.js';
import { startDetectorApp } from '../detector.app.js';

// Signing keys for the services under test (AUTOHEAL_SIGNING_KEY_FILE, AUTOHEAL_TRUST_FILE).
const keys = createTestKeys();
afterAll(() => keys.remove());

// A long heartbeat interval: in these tests nothing may open by a deadline by accident.
const INTERVAL_MS = 10_000;

function ofType<T extends EventType>(events: Envelope[], type: T): EventOf<T>[] {
  return events.filter((e) => isEvent(e, type));
}

describe('detector health signals (real NATS and Postgres)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let nc: NatsConnection;
  let publisher: EventPublisher;
  let app: INestApplication | undefined;
  let dir: string;
  let sequence = 0;

  const incidentEvents = () => readStream<Envelope>(nc, STREAMS.incidents.name);

  async function startDetector(): Promise<void> {
    const config = loadConfig({
      DATABASE_URL: db.roleUrl('detector'), ...keys.env('detector'),
      NATS_URL: nats.url,
      DETECTOR_PORT: '0',
      DETECTOR_SNAPSHOT_INTERVAL_MS: '100',
      DETECTOR_RULES_FILE: join(dir, 'rules.json'),
    });
    app = await startDetectorApp(config);
  }

  async function stopDetector(): Promise<void> {
    await app?.close();
    app = undefined;
  }

  const beat = (tenantId: string, instance: string) =>
    publisher.publish(newEvent('health.heartbeat', { tenantId, producer: 'test', data: { service: 'api', instance, intervalMs: INTERVAL_MS, sequence: ++sequence } }));

  const exited = (tenantId: string, instance: string) =>
    publisher.publish(newEvent('health.exited', { tenantId, producer: 'agent', data: { service: 'api', instance, exitCode: 1, signal: null, observedBy: 'agent' } }));

  const alert = (tenantId: string, instance: string, status: 'firing' | 'resolved') =>
    publisher.publish(
      newEvent('health.alert', {
        tenantId,
        producer: 'alertmanager',
        data: {
          service: 'api',
          instance,
          alertname: 'HighLatency',
          status,
          fingerprint: `fp-${instance}`,
          startsAt: new Date(Date.now() - 1_000).toISOString(),
          ...(status === 'resolved' ? { endsAt: new Date().toISOString() } : {}),
          labels: {},
          annotations: {},
        },
      }),
    );

  function samples(count: number, errors: number, startAt: number): MetricSample[] {
    return Array.from({ length: count }, (_, i) => ({
      at: new Date(startAt + i * 1_000).toISOString(),
      windowMs: 1_000,
      requests: 100,
      errors,
      latencyMs: { p50: 5, p99: 20 },
    }));
  }

  const metrics = (tenantId: string, instance: string, batch: MetricSample[]) =>
    publisher.publish(newEvent('health.metrics', { tenantId, producer: 'test', data: { service: 'api', instance, samples: batch } }));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'detector-rules-'));
    const now = Date.now();
    writeFileSync(
      join(dir, 'rules.json'),
      JSON.stringify({
        tenants: { quiet: { maintenance: [{ from: new Date(now - 60_000).toISOString(), to: new Date(now + 3_600_000).toISOString(), reason: 'planned upgrade' }] } },
      }),
    );
    nats = await startNatsServer();
    db = await createTestDatabase();
    nc = await connectNats({ servers: nats.url, name: 'detector-signals-test', onClosedForGood: () => undefined });
    await provisionStreams(nc);
    publisher = new EventPublisher(nc);
  });

  afterAll(async () => {
    await stopDetector();
    await closeNats(nc);
    await nats.stop();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens a crashed incident as soon as the exit is seen, and resolves it when heartbeats resume', async () => {
    await startDetector();
    await beat('acme', 'crash-1');
    await exited('acme', 'crash-1');
    await expectEventually(async () => {
      const opened = ofType(await incidentEvents(), 'incident.opened').filter((e) => e.data.instance === 'crash-1');
      expect(opened).toHaveLength(1);
      expect(opened[0].data).toMatchObject({ kind: 'crashed', scope: 'instance', evidence: { exitCode: 1, observedBy: 'agent' } });
      // No deadline waited out: the heartbeat interval is 10 s.
      expect(opened[0].data.detectionLatencyMs).toBeLessThan(INTERVAL_MS);
    });
    const incidentId = ofType(await incidentEvents(), 'incident.opened').find((e) => e.data.instance === 'crash-1')!.data.incidentId;

    await beat('acme', 'crash-1');
    await expectEventually(async () => {
      const resolved = ofType(await incidentEvents(), 'incident.resolved').filter((e) => e.data.instance === 'crash-1');
      expect(resolved.map((e) => e.data.incidentId)).toEqual([incidentId]);
    });
    await stopDetector();
  });

  it('opens and resolves an alert incident keyed by the alert fingerprint', async () => {
    await startDetector();
    await alert('acme', 'alert-1', 'firing');
    await alert('acme', 'alert-1', 'firing');
    await expectEventually(async () => {
      const opened = ofType(await incidentEvents(), 'incident.opened').filter((e) => e.data.instance === 'alert-1');
      expect(opened).toHaveLength(1);
      expect(opened[0].data).toMatchObject({ kind: 'alert', evidence: { alertname: 'HighLatency', ruleKey: 'fp-alert-1' } });
    });
    await alert('acme', 'alert-1', 'resolved');
    await expectEventually(async () => {
      expect(ofType(await incidentEvents(), 'incident.resolved').filter((e) => e.data.instance === 'alert-1')).toHaveLength(1);
    });
    await stopDetector();
  });

  it('a burst of errors in the metrics opens an error_rate incident, good samples resolve it', async () => {
    await startDetector();
    const start = Date.now() - 60_000;
    await metrics('acme', 'metrics-1', samples(10, 0, start));
    await metrics('acme', 'metrics-1', samples(5, 50, start + 10_000));
    await expectEventually(async () => {
      const opened = ofType(await incidentEvents(), 'incident.opened').filter((e) => e.data.instance === 'metrics-1');
      expect(opened.map((e) => e.data.kind)).toContain('error_rate');
      expect(opened.filter((e) => e.data.kind === 'error_rate')).toHaveLength(1);
    });
    await metrics('acme', 'metrics-1', samples(10, 0, start + 15_000));
    await expectEventually(async () => {
      const resolved = ofType(await incidentEvents(), 'incident.resolved').filter((e) => e.data.instance === 'metrics-1' && e.data.kind === 'error_rate');
      expect(resolved).toHaveLength(1);
    });
    await stopDetector();
  });

  it('opens nothing inside a maintenance window', async () => {
    await startDetector();
    await beat('quiet', 'maint-1');
    await exited('quiet', 'maint-1');
    await alert('quiet', 'maint-1', 'firing');
    const start = Date.now() - 60_000;
    await metrics('quiet', 'maint-1', samples(10, 0, start));
    await metrics('quiet', 'maint-1', samples(5, 50, start + 10_000));
    // A crash outside the window, published after: once it is seen, the window's events were handled too.
    await exited('acme', 'maint-probe');
    await expectEventually(async () => {
      expect(ofType(await incidentEvents(), 'incident.opened').filter((e) => e.data.instance === 'maint-probe')).toHaveLength(1);
    });
    await new Promise((r) => setTimeout(r, 300));
    expect((await incidentEvents()).filter((e) => e.tenantId === 'quiet')).toHaveLength(0);
    await stopDetector();
  });

  it('loses and duplicates nothing when the detector is closed mid-stream and restarted', async () => {
    await startDetector();
    const instances = Array.from({ length: 30 }, (_, i) => `restart-${i}`);
    // Each instance: alert fires, half of them resolve, a third of them crash — published while the detector goes away.
    const publishAll = (async () => {
      for (const [i, instance] of instances.entries()) {
        await alert('acme', instance, 'firing');
        if (i % 2 === 0) await alert('acme', instance, 'resolved');
        if (i % 3 === 0) await exited('acme', instance);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await new Promise((r) => setTimeout(r, 120));
    await stopDetector();
    await publishAll;
    await startDetector();

    const expectedAlerts = instances.length;
    const expectedResolved = instances.filter((_, i) => i % 2 === 0).length;
    const expectedCrashes = instances.filter((_, i) => i % 3 === 0).length;
    await expectEventually(async () => {
      const events = (await incidentEvents()).filter((e) => 'instance' in e.data && String(e.data.instance).startsWith('restart-'));
      const opened = ofType(events, 'incident.opened');
      expect(opened.filter((e) => e.data.kind === 'alert')).toHaveLength(expectedAlerts);
      expect(opened.filter((e) => e.data.kind === 'crashed')).toHaveLength(expectedCrashes);
      expect(ofType(events, 'incident.resolved').filter((e) => e.data.kind === 'alert')).toHaveLength(expectedResolved);
    }, { timeoutMs: 15_000 });
    // And nothing more arrives after settling.
    await new Promise((r) => setTimeout(r, 500));
    const events = (await incidentEvents()).filter((e) => 'instance' in e.data && String(e.data.instance).startsWith('restart-'));
    const byInstanceKind = new Map<string, number>();
    for (const e of ofType(events, 'incident.opened')) byInstanceKind.set(`${e.data.instance}/${e.data.kind}`, (byInstanceKind.get(`${e.data.instance}/${e.data.kind}`) ?? 0) + 1);
    expect([...byInstanceKind.values()].every((n) => n === 1)).toBe(true);

    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    const { rows } = await pg.query<{ kind: string; status: string; n: string }>(
      `SELECT kind, status, count(*) AS n FROM detector.incidents WHERE instance LIKE 'restart-%' GROUP BY kind, status ORDER BY kind, status`,
    );
    await pg.end();
    expect(rows.map((r) => [r.kind, r.status, Number(r.n)])).toEqual([
      ['alert', 'open', expectedAlerts - expectedResolved],
      ['alert', 'resolved', expectedResolved],
      ['crashed', 'open', expectedCrashes],
    ]);
    await stopDetector();
  });
});
