import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import type { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { isEvent, newEvent, STREAMS, type DeadLetterRecord, type Envelope } from '@autoheal/contracts';
import { closeNats, connectNats, EventPublisher, provisionStreams } from '@autoheal/messaging';
import { metricsRegistry } from '@autoheal/telemetry';
import { createTestDatabase, createTestKeys, expectEventually, readStream, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { loadConfig } from '../config.js';
import { startDetectorApp } from '../detector.app.js';

// Signing keys for the services under test (AUTOHEAL_SIGNING_KEY_FILE, AUTOHEAL_TRUST_FILE).
const keys = createTestKeys();
afterAll(() => keys.remove());

const CAP = 5;
const INTERVAL_MS = 100;

/** What one tenant can do to the detector's shared state, tried as that tenant. */
describe('detector tenant limits (real NATS and Postgres)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let nc: NatsConnection;
  let pg: Client;
  let publisher: EventPublisher;
  let app: INestApplication;
  let base: string;
  let sequence = 0;
  const savedKeys = process.env.DETECTOR_INGEST_API_KEYS;

  const beat = (tenantId: string, instance: string, intervalMs = INTERVAL_MS) =>
    publisher.publish(newEvent('health.heartbeat', { tenantId, producer: 'test', data: { service: 'api', instance, intervalMs, sequence: ++sequence } }));
  const incidents = async () => (await readStream<Envelope>(nc, STREAMS.incidents.name)).filter((e) => isEvent(e, 'incident.opened'));
  const deadLetters = async (tenantId: string) =>
    (await readStream<DeadLetterRecord>(nc, STREAMS.deadLetter.name)).filter((r) => r.subject.startsWith(`health.${tenantId}.`) && r.consumer.startsWith('detector-health-'));
  const quotaRefusals = async (tenant: string) =>
    ((await metricsRegistry.getSingleMetric('autoheal_detector_instance_quota_exceeded_total')?.get())?.values ?? []).filter((v) => v.labels.tenant === tenant).reduce((n, v) => n + v.value, 0);

  beforeAll(async () => {
    nats = await startNatsServer();
    db = await createTestDatabase();
    nc = await connectNats({ servers: nats.url, name: 'detector-limits-test', onClosedForGood: () => undefined });
    await provisionStreams(nc);
    publisher = new EventPublisher(nc);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    // HTTP ingest reads its keys from the environment when the module is built.
    process.env.DETECTOR_INGEST_API_KEYS = 'quota-a=quota-a-key-1234';
    const config = loadConfig({
      DATABASE_URL: db.roleUrl('detector'),
      ...keys.env('detector'),
      NATS_URL: nats.url,
      DETECTOR_PORT: '0',
      DETECTOR_SNAPSHOT_INTERVAL_MS: '100',
      DETECTOR_MAX_INSTANCES_PER_TENANT: String(CAP),
      // Forgotten after a second without events (unless alive or with an open incident).
      DETECTOR_INSTANCE_IDLE_MS: '1000',
    });
    app = await startDetectorApp(config);
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app?.close();
    if (savedKeys === undefined) delete process.env.DETECTOR_INGEST_API_KEYS;
    else process.env.DETECTOR_INGEST_API_KEYS = savedKeys;
    await pg.end();
    await closeNats(nc);
    await nats.stop();
    await db.drop();
  });

  it('tracks at most DETECTOR_MAX_INSTANCES_PER_TENANT instances of a tenant: tenant A announcing 5 × the cap is refused past it, B is tracked and detected', async () => {
    const stopB = [setInterval(() => void beat('quota-b', 'b-1'), INTERVAL_MS / 2), setInterval(() => void beat('quota-b', 'b-2'), INTERVAL_MS / 2)];
    try {
      // A: 5 × the cap of new names, on the bus, with a long interval (none of them could hang during the test).
      for (let i = 0; i < 5 * CAP; i++) await beat('quota-a', `a-${i}`, 60_000);
      // …and a crash of one more: a new instance too, so no incident either.
      await publisher.publish(newEvent('health.exited', { tenantId: 'quota-a', producer: 'test', data: { service: 'api', instance: 'a-crash', exitCode: 1, signal: null, observedBy: 'agent' } }));

      await expectEventually(async () => {
        const refused = await deadLetters('quota-a');
        expect(refused).toHaveLength(4 * CAP + 1);
        // Refused on the first delivery, with the reason; the subject keeps them in A's share.
        expect(new Set(refused.map((r) => `${r.reason}/${r.deliveries}`))).toEqual(new Set(['instance_quota/1']));
        expect(refused[0].detail).toContain('DETECTOR_MAX_INSTANCES_PER_TENANT');
      }, { timeoutMs: 20_000 });
      expect(await quotaRefusals('quota-a')).toBe(4 * CAP + 1);
      const stored = await readStream<Envelope>(nc, STREAMS.deadLetter.name);
      expect(stored.length).toBe(4 * CAP + 1);

      // The first CAP of A's instances are tracked (their state saved); none of the others is.
      await expectEventually(async () => {
        const { rows } = await pg.query<{ instance: string }>(`SELECT instance FROM detector.instance_snapshots WHERE tenant_id = 'quota-a' ORDER BY instance`);
        expect(rows.map((r) => r.instance)).toEqual(Array.from({ length: CAP }, (_, i) => `a-${i}`).sort());
      });

      // Over HTTP: a new name of A is refused before anything is published; a tracked one passes.
      const post = (instance: string) =>
        fetch(`${base}/v1/tenants/quota-a/health-events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer quota-a-key-1234' },
          body: JSON.stringify(newEvent('health.heartbeat', { tenantId: 'quota-a', producer: 'http', data: { service: 'api', instance, intervalMs: 60_000, sequence: 1 } })),
        });
      const refused = await post('a-http-new');
      expect(refused.status).toBe(422);
      const body = (await refused.json()) as { code: string; message: string };
      expect(body.code).toBe('instance_quota_exceeded');
      expect(body.message).toContain('DETECTOR_MAX_INSTANCES_PER_TENANT');
      const published = (await readStream<Envelope>(nc, STREAMS.health.name)).filter((e) => e.tenantId === 'quota-a' && (e.data as { instance: string }).instance === 'a-http-new');
      expect(published).toEqual([]);
      expect((await post('a-0')).status).toBe(202);

      // B, meanwhile, is tracked and detected: b-1 stops beating and its hang is detected.
      clearInterval(stopB[0]);
      await expectEventually(async () => {
        const opened = (await incidents()).filter((e) => e.tenantId === 'quota-b');
        expect(opened.map((e) => [(e.data as { instance: string }).instance, (e.data as { kind: string }).kind])).toEqual([['b-1', 'heartbeat_missed']]);
      });
      expect((await incidents()).filter((e) => e.tenantId === 'quota-a')).toEqual([]);
    } finally {
      stopB.forEach(clearInterval);
    }
  });

  it('dead-letters a health event whose content the database refuses on its first delivery, and goes on detecting', async () => {
    // Valid for the contract (a signal name is any short string), refused by jsonb: 22P05.
    const poison = newEvent('health.exited', { tenantId: 'poison', producer: 'test', data: { service: 'api', instance: 'p-1', exitCode: 1, signal: 'SIG\u0000KILL', observedBy: 'agent' } });
    const next = newEvent('health.exited', { tenantId: 'poison', producer: 'test', data: { service: 'api', instance: 'p-2', exitCode: 1, signal: 'SIGKILL', observedBy: 'agent' } });
    await publisher.publish(poison);
    await publisher.publish(next);

    await expectEventually(async () => {
      const letters = await deadLetters('poison');
      expect(letters.map((r) => [r.subject, r.reason, r.deliveries])).toEqual([['health.poison.api.p-1', 'store_rejected', 1]]);
      expect(letters[0].detail).toMatch(/SQLSTATE 22P05/);
      const opened = (await incidents()).filter((e) => e.tenantId === 'poison');
      expect(opened.map((e) => (e.data as { instance: string }).instance)).toEqual(['p-2']);
    }, { timeoutMs: 20_000 });
  });

  it('lets instances that went away leave the count: after a planned stop and a quiet spell, the tenant may track new ones', async () => {
    const snapshotRows = async () => (await pg.query<{ instance: string }>(`SELECT instance FROM detector.instance_snapshots WHERE tenant_id = 'quota-a' ORDER BY instance`)).rows.map((r) => r.instance);
    expect(await snapshotRows()).toHaveLength(CAP);
    const refusedBefore = (await deadLetters('quota-a')).length;
    for (let i = 0; i < CAP; i++) {
      await publisher.publish(newEvent('health.stopping', { tenantId: 'quota-a', producer: 'test', data: { service: 'api', instance: `a-${i}`, reason: 'scaled in' } }));
    }
    // Forgotten (their saved state deleted) once idle for DETECTOR_INSTANCE_IDLE_MS.
    await expectEventually(async () => expect(await snapshotRows()).toEqual([]), { timeoutMs: 20_000 });

    await beat('quota-a', 'a-after', 60_000);
    await expectEventually(async () => expect(await snapshotRows()).toEqual(['a-after']));
    expect(await deadLetters('quota-a')).toHaveLength(refusedBefore);
  });
});
