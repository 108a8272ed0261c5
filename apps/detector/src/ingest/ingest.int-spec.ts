import { Agent, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { deadLetterRecord, deduplicationKey, healthDeduplicationKey, newEvent, newEventId, parseEnvelope, STREAMS, type DeadLetterRecord, type Envelope } from '@autoheal/contracts';
import { closeNats, connectNats, MessagingModule, provisionStreams } from '@autoheal/messaging';
import { createTestKeys, expectEventually, readStream, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import { derivedSecret, loadSigningKey } from '@autoheal/security';
import { alertEventId } from './alertmanager.mapping.js';
import { DRAIN_REFUSED_UP_TO_BYTES } from './ingest-body.reader.js';
import { IngestModule } from './ingest.module.js';
import { INGEST_PUBLISHES_IN_FLIGHT_PER_TENANT, IngestService } from './ingest.service.js';

// Signing keys for the services under test (AUTOHEAL_SIGNING_KEY_FILE, AUTOHEAL_TRUST_FILE).
const keys = createTestKeys();
afterAll(() => keys.remove());

const KEYS = 'acme=acme-key-1234,globex=globex-key-1234,initech=initech-key-1234,umbrella=umbrella-key-1234,hooli=hooli-key-1234';
let nowMs = Date.parse('2026-01-01T00:00:00Z');
const clock = { now: () => new Date(nowMs) };

function heartbeat(tenantId: string, instance: string, overrides: Record<string, unknown> = {}): Envelope {
  const event = newEvent('health.heartbeat', { tenantId, producer: 'http-test', data: { service: 'api', instance, intervalMs: 1000, sequence: 0 } });
  return { ...event, ...overrides };
}

/** POSTs with node:http, which keeps writing the body while the answer arrives; a write error after the answer is not a failure. */
function postWholeBody(url: string, key: string, body: string): Promise<{ status: number; code: unknown }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), authorization: `Bearer ${key}` } }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: unknown }).code }));
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    req.end(body);
  });
}

describe('HTTP ingest (real NATS)', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let app: INestApplication;
  let base: string;

  async function post(path: string, body: unknown, key: string | null = 'acme-key-1234', raw?: string) {
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
      body: raw ?? JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  }

  const healthEvents = async () => readStream<Envelope>(nc, STREAMS.health.name);
  const deadLetters = async (consumer: string) =>
    (await readStream<DeadLetterRecord>(nc, STREAMS.deadLetter.name)).filter((r) => r.consumer === consumer);

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connectNats({ servers: nats.url, name: 'ingest-test', onClosedForGood: () => undefined });
    await provisionStreams(nc);
    @Module({
      imports: [
        MessagingModule.forRoot({ servers: nats.url, name: 'detector-ingest-test', identity: 'detector', signing: { keyFile: keys.env('detector').AUTOHEAL_SIGNING_KEY_FILE, trustFile: keys.trustFile } }),
        IngestModule.forRoot({ DETECTOR_INGEST_API_KEYS: KEYS, DETECTOR_INGEST_RATE_PER_SEC: '10', DETECTOR_INGEST_BURST: '500', DETECTOR_INGEST_MAX_BODY_BYTES: '262144' }, clock),
      ],
    })
    class TestIngestRoot {}
    app = await NestFactory.create(TestIngestRoot, { logger: false });
    await app.listen(0, '127.0.0.1');
    const address = (app.getHttpServer() as Server).address() as AddressInfo;
    base = `http://127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    await app?.close();
    await closeNats(nc);
    await nats?.stop();
  });

  describe('health-events', () => {
    it('accepts one envelope and a batch, publishing each with a Nats-Msg-Id derived from its tenant and id', async () => {
      const single = heartbeat('acme', 'api-1');
      const one = await post('/v1/tenants/acme/health-events', single);
      expect(one).toMatchObject({ status: 202, body: { accepted: 1, duplicates: 0, ids: [single.id] } });

      const batch = [heartbeat('acme', 'api-2'), newEvent('health.metrics', { tenantId: 'acme', producer: 'http-test', data: { service: 'api', instance: 'api-2', samples: [{ at: new Date().toISOString(), windowMs: 1000, requests: 10, errors: 1 }] } })];
      const many = await post('/v1/tenants/acme/health-events', { events: batch });
      expect(many).toMatchObject({ status: 202, body: { accepted: 2 } });

      const again = await post('/v1/tenants/acme/health-events', single);
      expect(again).toMatchObject({ status: 202, body: { accepted: 1, duplicates: 1 } });

      const stored = await healthEvents();
      expect(stored.map((e) => e.id).sort()).toEqual([single.id, ...batch.map((e) => e.id)].sort());
      const jsm = await jetstreamManager(nc);
      const first = await jsm.streams.getMessage(STREAMS.health.name, { seq: 1 });
      expect(first?.subject).toBe('health.acme.api.api-1');
      // A key only the detector (any replica: it is derived from the detector's signing key) can compute.
      const secret = derivedSecret(loadSigningKey(keys.env('detector').AUTOHEAL_SIGNING_KEY_FILE), 'health deduplication keys');
      expect(first?.header.get('Nats-Msg-Id')).toBe(healthDeduplicationKey(secret, 'acme', single.id));
    });

    it("lets no tenant suppress another's event by publishing first, on its own subject, under any key it could compute for the id", async () => {
      const id = newEventId();
      const js = jetstream(nc);
      for (const msgID of [id, deduplicationKey('globex', id), `globex:${id}:`]) {
        const decoy = await js.publish('health.acme.api.decoy', JSON.stringify(heartbeat('acme', 'decoy', { id })), { msgID });
        expect(decoy.duplicate).toBe(false);
      }
      const real = await post('/v1/tenants/globex/health-events', heartbeat('globex', 'victim', { id }), 'globex-key-1234');
      expect(real).toMatchObject({ status: 202, body: { accepted: 1, duplicates: 0, ids: [id] } });
      expect((await healthEvents()).filter((e) => e.id === id).map((e) => e.tenantId).sort()).toEqual(['acme', 'acme', 'acme', 'globex']);
      // The same request again (a client retrying after a lost answer) is stored once.
      expect(await post('/v1/tenants/globex/health-events', heartbeat('globex', 'victim', { id }), 'globex-key-1234')).toMatchObject({ status: 202, body: { duplicates: 1 } });
      nowMs += 60_000; // globex's event budget full again for the tests after this one
    });

    it('refuses a batch with an invalid event: 400 naming index and field, nothing published, the invalid one dead-lettered', async () => {
      const before = (await healthEvents()).length;
      const good = heartbeat('acme', 'api-3');
      const bad = heartbeat('acme', 'api-4');
      (bad.data as { intervalMs: number }).intervalMs = 5;
      const res = await post('/v1/tenants/acme/health-events', { events: [good, bad] });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'invalid_event', violations: [{ index: 1, field: 'events.1.data.intervalMs' }] });
      expect(res.body.message).toContain('events.1.data.intervalMs');
      expect(await healthEvents()).toHaveLength(before);

      const letters = await deadLetters('http-ingest');
      expect(letters).toHaveLength(1);
      const letter = deadLetterRecord.parse(letters[0]);
      expect(letter).toMatchObject({ reason: 'invalid_payload', stream: 'HEALTH', subject: 'POST /v1/tenants/acme/health-events' });
      expect(letter.detail).toContain('events.1.data.intervalMs');
      expect(letter.headers['Autoheal-Event-Index']).toEqual(['1']);
      expect(JSON.parse(letter.payload)).toEqual(bad);
      const jsm = await jetstreamManager(nc);
      // One subject per consumer and tenant: the stream's per-subject limits bound each tenant's share.
      const info = await jsm.streams.info(STREAMS.deadLetter.name, { subjects_filter: 'deadletter.HEALTH.http-ingest.>' });
      expect(info.state.subjects).toEqual({ 'deadletter.HEALTH.http-ingest.acme': 1 });
    });

    it.each([
      ['another tenant', heartbeat('globex', 'api-1'), 'tenantId'],
      ['a non-health type', newEvent('incident.resolved', { tenantId: 'acme', producer: 'x', data: { incidentId: '0195f3c0-0000-7000-8000-000000000000', service: 'api', instance: 'api-1', kind: 'heartbeat_missed', resolvedAt: new Date().toISOString(), reason: 'x', durationMs: 1 } }), 'type'],
      ['a wildcard instance', heartbeat('acme', 'api-1', { data: { service: 'api', instance: '*', intervalMs: 1000, sequence: 0 } }), 'data.instance'],
    ])('refuses %s', async (_name, event, field) => {
      const res = await post('/v1/tenants/acme/health-events', event);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ violations: [{ index: 0, field }] });
    });

    it('dead-letters a body that is not JSON', async () => {
      const res = await post('/v1/tenants/acme/health-events', null, 'acme-key-1234', '{"id": ');
      expect(res).toMatchObject({ status: 400, body: { code: 'malformed_json' } });
      const letters = await deadLetters('http-ingest');
      expect(letters.some((l) => l.payload === '{"id": ' && l.reason === 'invalid_payload')).toBe(true);
    });

    it.each([
      ['no key', null, 401, 'missing_api_key'],
      ['an unknown key', 'nobody-key-1234', 401, 'invalid_api_key'],
      ["another tenant's key", 'globex-key-1234', 401, 'invalid_api_key'],
    ])('refuses %s', async (_name, key, status, code) => {
      const res = await post('/v1/tenants/acme/health-events', heartbeat('acme', 'api-1'), key);
      expect(res).toMatchObject({ status, body: { code } });
    });

    it('answers an unknown key and another tenant\'s key exactly alike (no oracle for whose a key is)', async () => {
      const unknown = await post('/v1/tenants/acme/health-events', heartbeat('acme', 'api-1'), 'nobody-key-1234');
      const foreign = await post('/v1/tenants/acme/health-events', heartbeat('acme', 'api-1'), 'globex-key-1234');
      expect(foreign.status).toBe(unknown.status);
      expect(foreign.body).toEqual(unknown.body);
    });

    it('refuses a body over the limit with 413', async () => {
      const res = await post('/v1/tenants/acme/health-events', { events: [heartbeat('acme', 'api-1', { producer: 'x'.repeat(300_000) })] });
      expect(res).toMatchObject({ status: 413, body: { code: 'payload_too_large' } });
    });

    it('accepts a body larger than the default 100 KB JSON limit', async () => {
      const events = Array.from({ length: 400 }, (_, i) => heartbeat('initech', `api-${i}`, { producer: 'p'.repeat(150) }));
      expect(JSON.stringify({ events }).length).toBeGreaterThan(120_000);
      const res = await post('/v1/tenants/initech/health-events', { events }, 'initech-key-1234');
      expect(res).toMatchObject({ status: 202, body: { accepted: 400 } });
    });

    it('rate-limits per tenant with 429 and Retry-After, and lets the tenant in again after refill', async () => {
      const events = Array.from({ length: 500 }, (_, i) => heartbeat('globex', `api-${i}`));
      expect((await post('/v1/tenants/globex/health-events', { events }, 'globex-key-1234')).status).toBe(202);
      const limited = await post('/v1/tenants/globex/health-events', heartbeat('globex', 'api-x'), 'globex-key-1234');
      expect(limited).toMatchObject({ status: 429, body: { code: 'rate_limited' } });
      expect(limited.headers.get('retry-after')).toBe('1');
      // Other tenants have their own bucket.
      expect((await post('/v1/tenants/acme/health-events', heartbeat('acme', 'api-5'))).status).toBe(202);
      nowMs += 1_000;
      expect((await post('/v1/tenants/globex/health-events', heartbeat('globex', 'api-x'), 'globex-key-1234')).status).toBe(202);
    });

    it("sends at most INGEST_PUBLISHES_IN_FLIGHT_PER_TENANT of a tenant's events to the stream at once: another tenant's event is stored ahead of most of a large batch", async () => {
      const ingest = app.get(IngestService);
      const limit = INGEST_PUBLISHES_IN_FLIGHT_PER_TENANT;
      const batch = Array.from({ length: 200 }, (_, i) => heartbeat('umbrella', `bulk-${i}`));
      const other = heartbeat('hooli', 'not-behind-umbrella');
      // With the server frozen nothing is acknowledged: what the detector has sent stays sent, in order, and the rest waits in the detector.
      nats.pause();
      let bulk: ReturnType<typeof post>;
      let single: ReturnType<typeof post>;
      try {
        bulk = post('/v1/tenants/umbrella/health-events', { events: batch }, 'umbrella-key-1234');
        await expectEventually(() => expect(ingest.publishLoad('umbrella')).toEqual({ running: limit, waiting: batch.length - limit }), { timeoutMs: 3_000, intervalMs: 10 });
        single = post('/v1/tenants/hooli/health-events', other, 'hooli-key-1234');
        await expectEventually(() => expect(ingest.publishLoad('hooli')).toEqual({ running: 1, waiting: 0 }), { timeoutMs: 3_000, intervalMs: 10 });
      } finally {
        nats.resume();
      }
      expect(await bulk).toMatchObject({ status: 202, body: { accepted: batch.length, duplicates: 0 } });
      expect(await single).toMatchObject({ status: 202, body: { accepted: 1, duplicates: 0 } });
      // The stream holds them in the order the server received them: hooli's after umbrella's first `limit`, not after all 200.
      const order = (await healthEvents()).map((e) => e.id);
      const at = order.indexOf(other.id);
      const umbrellaBefore = batch.filter((e) => order.indexOf(e.id) < at).length;
      expect({ stored: batch.every((e) => order.includes(e.id)), umbrellaBefore }).toEqual({ stored: true, umbrellaBefore: limit });
    });
  });

  describe('alertmanager', () => {
    const alert = (labels: Record<string, string>, status: 'firing' | 'resolved', fingerprint: string) => ({
      status,
      labels,
      annotations: { summary: 'error rate high' },
      startsAt: '2026-01-01T00:00:00.123456789Z',
      endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : '2026-01-01T00:05:00Z',
      generatorURL: 'http://prometheus/graph',
      fingerprint,
    });
    const payload = (alerts: unknown[]) => ({
      version: '4',
      groupKey: '{}:{alertname="HighErrorRate"}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'autoheal',
      groupLabels: {},
      commonLabels: {},
      commonAnnotations: {},
      externalURL: 'http://alertmanager:9093',
      alerts,
    });

    it('turns firing and resolved alerts into health.alert events', async () => {
      const body = payload([
        alert({ alertname: 'HighErrorRate', job: 'patient-api', instance: '10.0.0.7:9100', severity: 'critical' }, 'firing', 'a1b2'),
        alert({ alertname: 'HighLatency', service: 'patient-api' }, 'resolved', 'c3d4'),
      ]);
      const res = await post('/v1/tenants/acme/alertmanager', body);
      expect(res).toMatchObject({ status: 202, body: { accepted: 2 } });
      const alerts = (await healthEvents()).filter((e) => e.type === 'health.alert');
      expect(alerts.map((e) => parseEnvelope(e).ok)).toEqual([true, true]);
      expect(alerts.map((e) => e.data)).toEqual([
        expect.objectContaining({ service: 'patient-api', instance: '10-0-0-7-9100', alertname: 'HighErrorRate', status: 'firing', severity: 'critical', fingerprint: 'a1b2', startsAt: '2026-01-01T00:00:00.123Z' }),
        expect.objectContaining({ service: 'patient-api', instance: '_service', status: 'resolved', endsAt: '2026-01-01T00:05:00.000Z' }),
      ]);
      expect(alerts[0].data).not.toHaveProperty('endsAt');
      // Alertmanager re-sends a notification it thinks failed: same ids, stored once.
      const again = await post('/v1/tenants/acme/alertmanager', body);
      expect(again).toMatchObject({ status: 202, body: { accepted: 2, duplicates: 2 } });
    });

    it('refuses an alert without service or job label: 400 naming the field, dead-lettered', async () => {
      const before = (await healthEvents()).length;
      const res = await post('/v1/tenants/acme/alertmanager', payload([alert({ alertname: 'Orphan', instance: 'x' }, 'firing', 'e5f6')]));
      expect(res).toMatchObject({ status: 400, body: { code: 'invalid_event', violations: [{ index: 0, field: 'alerts.0.labels.service' }] } });
      expect(await healthEvents()).toHaveLength(before);
      const letters = await deadLetters('alertmanager');
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ reason: 'invalid_payload', subject: 'POST /v1/tenants/acme/alertmanager' });
      expect(letters[0].detail).toContain('alerts.0.labels.service');
    });

    it('refuses a payload of another version', async () => {
      const res = await post('/v1/tenants/acme/alertmanager', { ...payload([]), version: '3' });
      expect(res).toMatchObject({ status: 400, body: { violations: [{ index: null, field: 'version' }] } });
    });

    it("lets no tenant suppress another's alert by sending an event with its id first", async () => {
      // The strongest attacker: one that knows the id globex's alert will get (the detector's key
      // keeps it from knowing it; here the test derives it as the detector does).
      const idKey = derivedSecret(loadSigningKey(keys.env('detector').AUTOHEAL_SIGNING_KEY_FILE), 'alertmanager event ids');
      const firing = alert({ alertname: 'DiskFull', service: 'ledger' }, 'firing', 'victim-1');
      const victimId = alertEventId(idKey, 'globex', 'victim-1', 'firing', new Date('2026-01-01T00:00:00.123Z'));
      const decoy = await post('/v1/tenants/acme/health-events', heartbeat('acme', 'decoy', { id: victimId }));
      expect(decoy).toMatchObject({ status: 202, body: { accepted: 1, duplicates: 0, ids: [victimId] } });

      const real = await post('/v1/tenants/globex/alertmanager', payload([firing]), 'globex-key-1234');
      expect(real).toMatchObject({ status: 202, body: { accepted: 1, duplicates: 0, ids: [victimId] } });
      const stored = (await healthEvents()).filter((e) => e.id === victimId);
      expect(stored.map((e) => [e.tenantId, e.type]).sort()).toEqual([
        ['acme', 'health.heartbeat'],
        ['globex', 'health.alert'],
      ]);
    });
  });

  describe('abuse: every check before the work it protects', () => {
    let tight: INestApplication;
    let tightBase: string;
    const LIMITS = {
      DETECTOR_INGEST_API_KEYS: KEYS,
      DETECTOR_INGEST_MAX_BODY_BYTES: '4096',
      DETECTOR_INGEST_MAX_DEPTH: '8',
      DETECTOR_INGEST_REQUESTS_PER_SEC: '1',
      DETECTOR_INGEST_REQUEST_BURST: '5',
      DETECTOR_INGEST_BYTES_PER_SEC: '1024',
      DETECTOR_INGEST_BYTE_BURST: '8192',
      DETECTOR_INGEST_DEAD_LETTER_MAX_BYTES: '256',
    };

    async function send(path: string, raw: string, key: string | null) {
      const res = await fetch(`${tightBase}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
        body: raw,
      });
      return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
    }
    const deadLetterCount = async () => (await readStream<DeadLetterRecord>(nc, STREAMS.deadLetter.name)).length;

    beforeAll(async () => {
      @Module({
        imports: [
          MessagingModule.forRoot({ servers: nats.url, name: 'detector-ingest-abuse-test', identity: 'detector', signing: { keyFile: keys.env('detector').AUTOHEAL_SIGNING_KEY_FILE, trustFile: keys.trustFile } }),
          IngestModule.forRoot(LIMITS, clock),
        ],
      })
      class TightIngestRoot {}
      tight = await NestFactory.create(TightIngestRoot, { logger: false });
      await tight.listen(0, '127.0.0.1');
      tightBase = `http://127.0.0.1:${((tight.getHttpServer() as Server).address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await tight?.close();
    });

    it('refuses a body without a valid key before reading it: 401 even past the size limit, nothing dead-lettered, no quota spent', async () => {
      nowMs += 60_000;
      const before = await deadLetterCount();
      const huge = `{"events": [${'{"x":1},'.repeat(100_000)}{}]}`;
      for (const key of [null, 'nobody-key-1234', 'acme-key-1234']) {
        const res = await send('/v1/tenants/globex/health-events', huge, key);
        expect(res).toMatchObject({ status: 401 });
        expect(res.headers.get('connection')).toBe('close');
      }
      expect(await deadLetterCount()).toBe(before);
      // globex's own request budget (burst 5) is untouched by the 3 refusals: 5 requests pass.
      for (let i = 0; i < 5; i++) expect((await send('/v1/tenants/globex/health-events', JSON.stringify(heartbeat('globex', `g-${i}`)), 'globex-key-1234')).status).toBe(202);
    });

    it('keeps the connection of a refused small body (read and thrown away), closes it past DRAIN_REFUSED_UP_TO_BYTES; nothing dead-lettered either way', async () => {
      nowMs += 60_000;
      const before = await deadLetterCount();
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const post = (body: string) =>
        new Promise<{ status: number; connection: string | undefined; reusedSocket: boolean }>((resolve, reject) => {
          const req = request(`${tightBase}/v1/tenants/acme/health-events`, {
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), authorization: 'Bearer nobody-key-1234' },
          });
          req.on('response', (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, reusedSocket: req.reusedSocket }));
          });
          req.on('error', reject);
          req.end(body);
        });
      try {
        const small = `{"events": [${'{"x":1},'.repeat(1_000)}{}]}`;
        expect(Buffer.byteLength(small)).toBeLessThanOrEqual(DRAIN_REFUSED_UP_TO_BYTES);
        const first = await post(small);
        const second = await post(small);
        expect([first, second]).toEqual([
          { status: 401, connection: 'keep-alive', reusedSocket: false },
          { status: 401, connection: 'keep-alive', reusedSocket: true },
        ]);
        const large = 'z'.repeat(DRAIN_REFUSED_UP_TO_BYTES + 1);
        expect(await post(large)).toMatchObject({ status: 401, connection: 'close' });
      } finally {
        agent.destroy();
      }
      expect(await deadLetterCount()).toBe(before);
    });

    it('counts invalid and malformed bodies against the request quota, so garbage cannot flood; another tenant is unaffected', async () => {
      nowMs += 60_000;
      for (let i = 0; i < 5; i++) {
        expect((await send('/v1/tenants/acme/health-events', '{"id": ', 'acme-key-1234')).status).toBe(400);
      }
      const limited = await send('/v1/tenants/acme/health-events', JSON.stringify(heartbeat('acme', 'a-1')), 'acme-key-1234');
      expect(limited).toMatchObject({ status: 429, body: { code: 'rate_limited' } });
      expect(limited.body.message).toContain('DETECTOR_INGEST_REQUESTS_PER_SEC');
      expect((await send('/v1/tenants/initech/health-events', JSON.stringify(heartbeat('initech', 'i-1')), 'initech-key-1234')).status).toBe(202);
    });

    it('counts body bytes, valid or not, against the byte quota before reading when declared', async () => {
      nowMs += 60_000;
      const bulky = (i: number) => JSON.stringify({ pad: `${i}`.padEnd(3_500, 'p') });
      expect((await send('/v1/tenants/acme/health-events', bulky(1), 'acme-key-1234')).status).toBe(400);
      expect((await send('/v1/tenants/acme/health-events', bulky(2), 'acme-key-1234')).status).toBe(400);
      const limited = await send('/v1/tenants/acme/health-events', bulky(3), 'acme-key-1234');
      expect(limited).toMatchObject({ status: 429, body: { code: 'rate_limited' } });
      expect(limited.body.message).toContain('DETECTOR_INGEST_BYTES_PER_SEC');
    });

    it('refuses a body nested past the depth limit with 400 naming the limit, before parsing, and keeps only a bounded dead-letter copy', async () => {
      nowMs += 60_000;
      const before = await deadLetterCount();
      const deep = `${'['.repeat(1_900)}${']'.repeat(1_900)}`;
      const res = await send('/v1/tenants/acme/health-events', deep, 'acme-key-1234');
      expect(res).toMatchObject({ status: 400, body: { code: 'too_deep' } });
      expect(res.body.message).toContain('DETECTOR_INGEST_MAX_DEPTH');
      await expectEventually(async () => expect(await deadLetterCount()).toBe(before + 1));
      const letters = await deadLetters('http-ingest');
      const letter = letters.find((l) => l.detail.includes('DETECTOR_INGEST_MAX_DEPTH'));
      expect(letter?.payload).toHaveLength(256);
      expect(letter?.headers['Autoheal-Truncated-From-Bytes']).toEqual(['3800']);
    });

    it('names the size limit in a 413', async () => {
      nowMs += 60_000;
      const res = await send('/v1/tenants/acme/health-events', JSON.stringify(heartbeat('acme', 'big', { producer: 'x'.repeat(5_000) })), 'acme-key-1234');
      expect(res).toMatchObject({ status: 413, body: { code: 'payload_too_large' } });
      expect(res.body.message).toContain('DETECTOR_INGEST_MAX_BODY_BYTES');
    });

    it('refuses a body larger than the byte burst with 413 naming the size limit, every time, unread: never a 429 it could never get past', async () => {
      nowMs += 60_000;
      const before = await deadLetterCount();
      const huge = 'x'.repeat(20_000); // over the byte burst (8192), not only the size limit (4096)
      for (let attempt = 0; attempt < 3; attempt++) {
        nowMs += 60_000; // however long the sender waited
        const res = await send('/v1/tenants/acme/health-events', huge, 'acme-key-1234');
        expect(res).toMatchObject({ status: 413, body: { code: 'payload_too_large' } });
        expect(res.body.message).toContain('DETECTOR_INGEST_MAX_BODY_BYTES');
        // Declared under DRAIN_REFUSED_UP_TO_BYTES: discarded to its end unbuffered, the connection kept.
        expect(res.headers.get('connection')).toBe('keep-alive');
      }
      expect(await deadLetterCount()).toBe(before);
      // Its bytes were not charged: a body within the limit passes at once.
      expect((await send('/v1/tenants/acme/health-events', JSON.stringify(heartbeat('acme', 'after-huge')), 'acme-key-1234')).status).toBe(202);
    });

    it('gets the 413 to a client that keeps writing a large body before it reads the answer, instead of a reset', async () => {
      const huge = 'x'.repeat(5 * 1024 * 1024);
      for (let attempt = 0; attempt < 5; attempt++) {
        nowMs += 60_000;
        expect(await postWholeBody(`${tightBase}/v1/tenants/acme/health-events`, 'acme-key-1234', huge)).toEqual({ status: 413, code: 'payload_too_large' });
      }
    });
  });
});
