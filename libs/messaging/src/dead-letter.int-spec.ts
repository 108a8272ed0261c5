import { jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { DEAD_LETTER_MAX_RECORD_BYTES, deadLetterRecord, newEvent, STREAMS, type DeadLetterRecord, type Envelope } from '@autoheal/contracts';
import { metricsRegistry } from '@autoheal/telemetry';
import { expectEventually, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import { closeNats, connectNats, DeadLetterBudget, EventPublisher, provisionStreams, publishDeadLetter, startConsumer, type RunningConsumer } from './index.js';

const DL = STREAMS.deadLetter.name;
const PER_SUBJECT = 5;
const enc = new TextEncoder();

/** Every dead letter stored on subjects matching `filter`, with its subject and stored size. */
async function stored(jsm: JetStreamManager, filter: string): Promise<{ subject: string; bytes: number; record: DeadLetterRecord }[]> {
  const { state } = await jsm.streams.info(DL);
  const out: { subject: string; bytes: number; record: DeadLetterRecord }[] = [];
  if (state.messages === 0) return out;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(DL, { seq }).catch(() => null);
    if (!m || !subjectMatches(filter, m.subject)) continue;
    out.push({ subject: m.subject, bytes: m.data.byteLength, record: deadLetterRecord.parse(m.json()) });
  }
  return out;
}

function subjectMatches(filter: string, subject: string): boolean {
  return filter.endsWith('>') ? subject.startsWith(filter.slice(0, -1)) : filter === subject;
}

describe('dead letters per tenant (real nats-server)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let consumer: RunningConsumer | undefined;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats({ servers: server.url, name: 'dead-letter-test', onClosedForGood: () => undefined });
    jsm = await jetstreamManager(nc);
  });

  afterAll(async () => {
    await consumer?.stop();
    await closeNats(nc);
    await server.stop();
  });

  it('brings an existing dead-letter stream, created without limits, to its limits at boot and keeps what it held', async () => {
    // As every deployment before per-tenant limits created it.
    await jsm.streams.add({ name: DL, subjects: ['deadletter.>'], storage: StorageType.File, retention: RetentionPolicy.Limits, max_age: nanos(30 * 24 * 3600_000) });
    const js = jetstream(nc);
    for (let i = 0; i < 3; i++) await js.publish('deadletter.HEALTH.http-ingest', enc.encode(JSON.stringify({ old: i })));

    await provisionStreams(nc, 1, undefined, { perSubject: PER_SUBJECT, maxBytes: 64 * 1024 * 1024 });

    const { config, state } = await jsm.streams.info(DL);
    expect(config).toMatchObject({ max_msgs_per_subject: PER_SUBJECT, max_msg_size: DEAD_LETTER_MAX_RECORD_BYTES, max_bytes: 64 * 1024 * 1024, discard: 'old' });
    expect(state.messages).toBe(3);
  });

  it('lets one tenant flooding invalid events fill only its own share: another tenant’s dead letters are still there, and the consumer goes on', async () => {
    const received: Envelope[] = [];
    consumer = await startConsumer(nc, { stream: 'health', durable: 'flood-test', filterSubject: 'health.*.flood.>' }, async (e) => {
      received.push(e);
    });
    const js = jetstream(nc);
    // Tenant B's refused events, before and after the flood.
    await js.publish('health.tenant-b.flood.b-1', enc.encode('{b before'));
    // Tenant A: 60 invalid events of 200 KiB each, 12 MiB in all.
    const big = 'x'.repeat(200 * 1024);
    await Promise.all(Array.from({ length: 60 }, (_, i) => js.publish(`health.tenant-a.flood.a-${i}`, enc.encode(`{"n":${i},"junk":"${big}`))));
    await js.publish('health.tenant-b.flood.b-2', enc.encode('{b after'));
    // A subject whose tenant token is no tenant's: its own subject.
    await js.publish('health.no~tenant.flood.x', enc.encode('{nobody'));
    const good = newEvent('health.heartbeat', { tenantId: 'tenant-b', producer: 'test', data: { service: 'flood', instance: 'b-3', intervalMs: 1000, sequence: 1 } });
    await new EventPublisher(nc).publish(good);

    await expectEventually(async () => {
      expect(received.map((e) => e.id)).toEqual([good.id]);
      const info = await jsm.consumers.info(STREAMS.health.name, 'flood-test');
      expect(info.num_pending + info.num_ack_pending).toBe(0);
    }, { timeoutMs: 30_000 });

    const a = await stored(jsm, 'deadletter.HEALTH.flood-test.tenant-a');
    const b = await stored(jsm, 'deadletter.HEALTH.flood-test.tenant-b');
    const nobody = await stored(jsm, 'deadletter.HEALTH.flood-test.~none');
    // A keeps its newest PER_SUBJECT, each cut to the record limit: at most PER_SUBJECT × 32 KiB.
    expect(a).toHaveLength(PER_SUBJECT);
    expect(a.every((m) => m.bytes <= DEAD_LETTER_MAX_RECORD_BYTES && m.record.headers['Autoheal-Truncated-From-Bytes']?.length === 1)).toBe(true);
    expect(a.reduce((sum, m) => sum + m.bytes, 0)).toBeLessThanOrEqual(PER_SUBJECT * DEAD_LETTER_MAX_RECORD_BYTES);
    // B's dead letters, the one from before the flood too, are all there.
    expect(b.map((m) => m.record.payload)).toEqual(['{b before', '{b after']);
    expect(b.map((m) => m.record.reason)).toEqual(['invalid_payload', 'invalid_payload']);
    expect(nobody.map((m) => m.record.subject)).toEqual(['health.no~tenant.flood.x']);
    // Each stored dead letter is counted by stream, consumer, tenant and reason.
    expect(await storedCount({ tenant: 'tenant-b', stream: 'HEALTH', consumer: 'flood-test', reason: 'invalid_payload' })).toBe(2);
    expect(await storedCount({ tenant: 'tenant-a', stream: 'HEALTH', consumer: 'flood-test', reason: 'invalid_payload' })).toBe(60);
  });

  it('counts, and does not store, the dead letters of a tenant over its budget; other tenants are not affected', async () => {
    const budget = new DeadLetterBudget(3, 60_000);
    const js = jetstream(nc);
    const record = (tenant: string, i: number): DeadLetterRecord => ({
      reason: 'invalid_payload',
      detail: 'test',
      stream: 'HEALTH',
      consumer: 'budget-test',
      subject: `health.${tenant}.api.i-${i}`,
      streamSequence: i,
      deliveries: 1,
      headers: {},
      payload: '{',
      payloadEncoding: 'utf8',
      deadLetteredAt: new Date().toISOString(),
    });
    const before = await limitedCount('noisy');
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await publishDeadLetter(js, record('noisy', i), { consumer: 'budget-test', tenantId: 'noisy', msgID: `noisy-${i}` }, budget));
    const quiet = await publishDeadLetter(js, record('quiet', 0), { consumer: 'budget-test', tenantId: 'quiet', msgID: 'quiet-0' }, budget);

    expect(outcomes).toEqual(['stored', 'stored', 'stored', 'limited', 'limited']);
    expect(quiet).toBe('stored');
    expect((await stored(jsm, 'deadletter.HEALTH.budget-test.noisy')).map((m) => m.record.streamSequence)).toEqual([0, 1, 2]);
    expect(await stored(jsm, 'deadletter.HEALTH.budget-test.quiet')).toHaveLength(1);
    expect((await limitedCount('noisy')) - before).toBe(2);
    expect(await limitedCount('quiet')).toBe(0);
    // Only what was stored counts as a dead letter.
    expect(await storedCount({ tenant: 'noisy', consumer: 'budget-test' })).toBe(3);
    expect(await storedCount({ tenant: 'quiet', consumer: 'budget-test' })).toBe(1);
  });
});

async function limitedCount(tenant: string): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric('autoheal_dead_letters_limited_total')?.get();
  return (metric?.values ?? []).filter((v) => v.labels.tenant === tenant).reduce((sum, v) => sum + v.value, 0);
}

async function storedCount(labels: Record<string, string>): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric('autoheal_dead_letters_total')?.get();
  return (metric?.values ?? []).filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want)).reduce((sum, v) => sum + v.value, 0);
}
