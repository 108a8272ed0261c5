import type { NatsConnection } from '@nats-io/transport-node';
import type { INestApplication } from '@nestjs/common';
import { jetstream } from '@nats-io/jetstream';
import { deduplicationKey, healthSubject, isEvent, newEvent, newEventId, STREAMS, type Envelope } from '@autoheal/contracts';
import { closeNats, connectNats, EventPublisher, provisionStreams } from '@autoheal/messaging';
import { createTestDatabase, createTestKeys, expectEventually, readStream, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { loadConfig } from '../config.js';
import { startDetectorApp } from '../detector.app.js';

const keys = createTestKeys();
afterAll(() => keys.remove());

/**
 * Health events and JetStream's deduplication, through a running detector: a retried publish of
 * one event has one effect, and no other tenant can make an event vanish by claiming its key first.
 */
describe('detector: a health event is stored and acted on once, and only its own publisher can make it a duplicate (real NATS and Postgres)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let nc: NatsConnection;
  let app: INestApplication;

  beforeAll(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase();
    nc = await connectNats({ servers: nats.url, name: 'health-dedup-test', onClosedForGood: () => undefined });
    await provisionStreams(nc);
    app = await startDetectorApp(
      loadConfig({ DATABASE_URL: db.roleUrl('detector'), ...keys.env('detector'), NATS_URL: nats.url, DETECTOR_PORT: '0', DETECTOR_MISSED_INTERVALS: '50', DETECTOR_SNAPSHOT_INTERVAL_MS: '100' }),
    );
  });

  afterAll(async () => {
    await app?.close();
    await closeNats(nc);
    await nats?.stop();
    await db?.drop();
  });

  const exited = (tenantId: string, instance: string, id = newEventId()) => ({
    ...newEvent('health.exited', { tenantId, producer: 'supervisor', data: { service: 'api', instance, exitCode: 1, signal: null, observedBy: 'agent' as const } }),
    id,
  });
  const heartbeat = (tenantId: string, instance: string) =>
    newEvent('health.heartbeat', { tenantId, producer: 'sdk', data: { service: 'api', instance, intervalMs: 1_000, sequence: 1 } });
  const incidents = async () => readStream<Envelope>(nc, STREAMS.incidents.name);
  const opened = async (tenantId: string, instance: string) =>
    (await incidents()).filter((e) => isEvent(e, 'incident.opened') && e.tenantId === tenantId && e.data.instance === instance);

  it('a retried publish of an exit, after the instance recovered, is stored once and opens no second crash incident', async () => {
    const producer = new EventPublisher(nc); // a producer process of acme, with its own secret
    const exit = exited('acme', 'api-1');
    expect(await producer.publish(exit)).toMatchObject({ duplicate: false });
    await expectEventually(async () => expect(await opened('acme', 'api-1')).toHaveLength(1), { timeoutMs: 20_000 });
    await producer.publish(heartbeat('acme', 'api-1'));
    await expectEventually(async () => expect((await incidents()).filter((e) => e.type === 'incident.resolved' && e.tenantId === 'acme')).toHaveLength(1), { timeoutMs: 20_000 });

    // The first acknowledgement was lost, say: the same event goes out again, late.
    expect(await producer.publish(exit)).toMatchObject({ duplicate: true });
    // A later crash of another instance: once its incident is out, the detector has read past the retry.
    await producer.publish(exited('acme', 'api-marker'));
    await expectEventually(async () => expect(await opened('acme', 'api-marker')).toHaveLength(1), { timeoutMs: 20_000 });
    expect((await readStream<Envelope>(nc, STREAMS.health.name)).filter((e) => e.id === exit.id)).toHaveLength(1);
    expect(await opened('acme', 'api-1')).toHaveLength(1);
  });

  it('another tenant publishing first under every key it could compute for the id leaves the exit to open its incident', async () => {
    const id = newEventId();
    const js = jetstream(nc);
    const mallory = exited('mallory', 'm-1', id);
    for (const msgID of [id, deduplicationKey('acme', id), `acme:${id}:`]) {
      await js.publish(healthSubject('mallory', 'api', 'm-1'), JSON.stringify(mallory), { msgID });
    }
    const exit = exited('acme', 'api-2', id);
    expect(await new EventPublisher(nc).publish(exit)).toMatchObject({ duplicate: false });
    await expectEventually(async () => expect(await opened('acme', 'api-2')).toHaveLength(1), { timeoutMs: 20_000 });
  });
});
