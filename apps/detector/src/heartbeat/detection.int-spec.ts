import type { NatsConnection } from '@nats-io/transport-node';
import type { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { isEvent, newEvent, STREAMS, type Envelope, type EventOf, type EventType } from '@autoheal/contracts';
import { closeNats, connectNats, EventPublisher, provisionStreams } from '@autoheal/messaging';
import { metricsRegistry } from '@autoheal/telemetry';
import { createTestDatabase, expectEventually, readStream, startNatsServer, type NatsServerHandle, type TestDatabase, createTestKeys } from '@autoheal/testing';
import { loadConfig } from '../config.js';
import { startDetectorApp } from '../detector.app.js';

// Signing keys for the services under test (AUTOHEAL_SIGNING_KEY_FILE, AUTOHEAL_TRUST_FILE).
const keys = createTestKeys();
afterAll(() => keys.remove());

// Long enough that a loaded 2-core machine pausing this process (its heartbeats) for a few
// hundred milliseconds does not look like a hang: an instance is hung after MISSED intervals.
const INTERVAL_MS = 250;
const MISSED = 4;

function ofType<T extends EventType>(events: Envelope[], type: T): EventOf<T>[] {
  return events.filter((e) => isEvent(e, type));
}

async function incidentEvents(nc: NatsConnection): Promise<Envelope[]> {
  return readStream<Envelope>(nc, STREAMS.incidents.name);
}

describe('detector (real NATS and Postgres)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let nc: NatsConnection;
  let publisher: EventPublisher;
  let app: INestApplication | undefined;
  let sequence = 0;

  async function startDetector(env: Record<string, string> = {}): Promise<void> {
    const config = loadConfig({
      DATABASE_URL: db.roleUrl('detector'),
      ...keys.env('detector'),
      NATS_URL: nats.url,
      DETECTOR_PORT: '0',
      DETECTOR_MISSED_INTERVALS: String(MISSED),
      DETECTOR_SNAPSHOT_INTERVAL_MS: '100',
      ...env,
    });
    app = await startDetectorApp(config);
  }

  async function stopDetector(): Promise<void> {
    await app?.close();
    app = undefined;
  }

  function beat(instance: string) {
    return publisher.publish(
      newEvent('health.heartbeat', { tenantId: 'acme', producer: 'test', data: { service: 'api', instance, intervalMs: INTERVAL_MS, sequence: ++sequence } }),
    );
  }

  function beatEvery(instance: string): () => void {
    const timer = setInterval(() => void beat(instance), INTERVAL_MS / 2);
    return () => clearInterval(timer);
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase();
    nc = await connectNats({ servers: nats.url, name: 'detector-test', onClosedForGood: () => undefined });
    await provisionStreams(nc);
    publisher = new EventPublisher(nc);
  });

  afterAll(async () => {
    await stopDetector();
    await closeNats(nc);
    await nats.stop();
    await db.drop();
  });

  it('opens one incident when heartbeats stop and resolves it when they resume', async () => {
    await startDetector();
    const stopBeating = beatEvery('api-1');
    await new Promise((r) => setTimeout(r, 5 * INTERVAL_MS));
    expect((await incidentEvents(nc)).filter((e) => e.type === 'incident.opened')).toHaveLength(0);
    stopBeating();

    await expectEventually(async () => {
      const opened = (await incidentEvents(nc)).filter((e) => e.type === 'incident.opened');
      expect(opened).toHaveLength(1);
      expect(opened[0].data).toMatchObject({ service: 'api', instance: 'api-1', kind: 'heartbeat_missed' });
    });
    // Long after the deadline: still exactly one.
    await new Promise((r) => setTimeout(r, 6 * INTERVAL_MS));
    const opened = (await incidentEvents(nc)).filter((e) => e.type === 'incident.opened');
    expect(opened).toHaveLength(1);
    const incidentId = ofType(opened, 'incident.opened')[0].data.incidentId;
    expect(opened[0].correlationId).toBe(incidentId);
    // Counted by kind and tenant (the dashboards' incidents by kind).
    const counted = (await metricsRegistry.getSingleMetric('autoheal_detector_incidents_opened_total')?.get())?.values.filter((v) => v.labels.kind === 'heartbeat_missed' && v.labels.tenant === opened[0].tenantId);
    expect(counted?.map((v) => v.value)).toEqual([1]);

    await beat('api-1');
    await expectEventually(async () => {
      const resolved = ofType(await incidentEvents(nc), 'incident.resolved');
      expect(resolved.map((e) => e.data.incidentId)).toEqual([incidentId]);
    });
    await stopDetector();
  });

  it('opens nothing for a planned stop', async () => {
    await startDetector();
    await beat('api-2');
    await publisher.publish(newEvent('health.stopping', { tenantId: 'acme', producer: 'test', data: { service: 'api', instance: 'api-2', reason: 'deploy' } }));
    await new Promise((r) => setTimeout(r, 8 * INTERVAL_MS));
    const forApi2 = ofType(await incidentEvents(nc), 'incident.opened').filter((e) => e.data.instance === 'api-2');
    expect(forApi2).toHaveLength(0);
    await stopDetector();
  });

  it('opens nothing for a heartbeat sent before a planned stop or a crash and read after it', async () => {
    await startDetector();
    const sentBefore = new Date();
    await beat('api-late-1');
    await beat('api-late-2');
    await publisher.publish(newEvent('health.stopping', { tenantId: 'acme', producer: 'test', data: { service: 'api', instance: 'api-late-1', reason: 'deploy' } }));
    await publisher.publish(newEvent('health.exited', { tenantId: 'acme', producer: 'test', data: { service: 'api', instance: 'api-late-2', exitCode: 137, signal: 'SIGKILL', observedBy: 'agent' } }));
    // Two requests of one producer answered out of order: the heartbeats arrive after the stop and the exit.
    for (const instance of ['api-late-1', 'api-late-2']) {
      await publisher.publish(
        newEvent('health.heartbeat', { tenantId: 'acme', producer: 'test', occurredAt: sentBefore, data: { service: 'api', instance, intervalMs: INTERVAL_MS, sequence: ++sequence } }),
      );
    }
    const lateOnes = async () => ofType(await incidentEvents(nc), 'incident.opened').filter((e) => e.data.instance.startsWith('api-late-'));
    // The crash, published before the late heartbeats, is read first: its incident opens.
    await expectEventually(async () => expect((await lateOnes()).map((e) => [e.data.instance, e.data.kind])).toEqual([['api-late-2', 'crashed']]));
    // Taken as the instances being back, the heartbeats would open hangs MISSED intervals later.
    await new Promise((r) => setTimeout(r, 3 * MISSED * INTERVAL_MS));
    expect((await lateOnes()).map((e) => [e.data.instance, e.data.kind])).toEqual([['api-late-2', 'crashed']]);
    await stopDetector();
  });

  it('restarts without opening incidents for live instances or reopening open ones', async () => {
    await startDetector();
    const stopBeating = beatEvery('api-3');
    await beat('api-4');
    await expectEventually(async () => {
      const ids = ofType(await incidentEvents(nc), 'incident.opened').map((e) => e.data.instance);
      expect(ids).toContain('api-4');
    });
    await stopDetector();
    await new Promise((r) => setTimeout(r, 4 * INTERVAL_MS));
    await startDetector();
    await new Promise((r) => setTimeout(r, 8 * INTERVAL_MS));
    stopBeating();
    const opened = ofType(await incidentEvents(nc), 'incident.opened').map((e) => e.data.instance);
    expect(opened.filter((i) => i === 'api-3')).toHaveLength(0);
    expect(opened.filter((i) => i === 'api-4')).toHaveLength(1);

    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    const { rows } = await pg.query(`SELECT instance, status FROM detector.incidents WHERE instance IN ('api-3', 'api-4')`);
    await pg.end();
    expect(rows).toEqual([{ instance: 'api-4', status: 'open' }]);
    await stopDetector();
  });

  it('marks a hang whose deadline passed while the detector was stalled as a suspected detector or network fault, and a watched one not', async () => {
    await startDetector({ DETECTOR_OBSERVER_LATE_MS: String(4 * INTERVAL_MS) });
    // Watched: heartbeats stop, the detector is running, the deadline timer fires on time.
    const stopWatched = beatEvery('api-7');
    await new Promise((r) => setTimeout(r, 5 * INTERVAL_MS));
    stopWatched();
    await expectEventually(async () => {
      const opened = ofType(await incidentEvents(nc), 'incident.opened').filter((e) => e.data.instance === 'api-7');
      expect(opened).toHaveLength(1);
      expect(opened[0].data.suspectedCause).toBeUndefined();
    });

    // Stalled: the detector's process (this one) is blocked from just before the deadline until
    // well after it, as a pause, a starved CPU or a blocked event loop would: heartbeats may have
    // been waiting unread, so the hang is the detector's doubt, not a proven fault.
    const stopStalled = beatEvery('api-8');
    await new Promise((r) => setTimeout(r, 5 * INTERVAL_MS));
    stopStalled();
    const blockedUntil = Date.now() + 20 * INTERVAL_MS;
    while (Date.now() < blockedUntil) {
      // Busy: no timer, no socket read, runs until the block ends.
    }
    await expectEventually(async () => {
      const opened = ofType(await incidentEvents(nc), 'incident.opened').filter((e) => e.data.instance === 'api-8');
      expect(opened).toHaveLength(1);
      // The stall shows as the deadline timer firing late, or, when the stall outlasted the
      // detector's partition lease on a loaded machine, as the handover that followed it: either
      // way the hang is marked as the detector's doubt.
      expect(opened[0].data).toMatchObject({ kind: 'heartbeat_missed', suspectedCause: 'detector_or_network' });
      expect(['timer_late', 'handover']).toContain((opened[0].data as { evidence?: { observerFault?: { signal?: string } } }).evidence?.observerFault?.signal);
    });
    await stopDetector();
  });
});
