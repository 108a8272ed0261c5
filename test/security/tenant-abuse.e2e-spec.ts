/**
 * Tenant isolation under abuse, against the whole system as processes (real nats-server with TLS
 * and NKey permissions, real Postgres, the four services and the demo agent). Tenant A attacks
 * with nothing but what a tenant has: its own ingest and audit keys and its own producer
 * credentials on the bus. After each attack tenant B's own instance fails, and
 * `expectTenantUnaffected` checks that B was served as if A did not exist: B's signal opened
 * its incident, the decision service planned the restart B's profile allows, the executor carried
 * it out (the process has a new pid), the incident resolved, and B's audit trail holds that flow,
 * still verifies, and gained nothing that A caused.
 *
 * Adding an attack is one `it`: take a mark, attack, then
 * `await expectTenantUnaffected(mark, crashProbe(nextInstance()))`.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { deduplicationKey, newEvent, newEventId } from '@autoheal/contracts';
import { expectEventually } from '@autoheal/testing';
import { startSecuritySystem, TENANT, type SecuritySystem } from './security-system.js';
import { alertPayload, exitedEvent, tenantAbuse, type Answer, type SeenEvent, type TenantAbuse } from './tenant-abuse-support.js';

/** The victim: the security system's own tenant. */
const B = TENANT;
/** The attacker, a tenant of the same deployment. */
const A = 'abuse-a';
/** One of B's instances per attack: a restarted target is in its cooldown for a minute afterwards. */
const B_INSTANCES = ['b-1', 'b-2', 'b-3', 'b-4', 'b-5', 'b-6', 'b-7'];
const A_INSTANCES = ['a-1'];
const KEYS = {
  ingest: { [A]: 'ing_abuse_a_0123456789abcdef', [B]: 'ing_abuse_b_0123456789abcdef' },
  audit: { [A]: 'aud_abuse_a_0123456789abcdef', [B]: 'aud_abuse_b_0123456789abcdef' },
};
/** Nobody's key, for the answers that must not tell a foreign key from an unknown one. */
const UNKNOWN_KEY = 'ing_nobody_0123456789abcdef';

describe('tenant isolation under abuse: tenant A attacks, tenant B is unaffected (whole system)', () => {
  let sys: SecuritySystem;
  let abuse: TenantAbuse;
  let bus: SeenEvent[];
  let nextB = 0;

  beforeAll(async () => {
    sys = await startSecuritySystem(B_INSTANCES, {
      tenants: [{ tenantId: A, instances: A_INSTANCES }],
      env: {
        DETECTOR_INGEST_API_KEYS: Object.entries(KEYS.ingest).map(([t, k]) => `${t}=${k}`).join(','),
        AUDITOR_TENANT_API_KEYS: Object.entries(KEYS.audit).map(([t, k]) => `${t}=${k}`).join(','),
        // A probe hangs B's instance and reports its exit a moment later: with fifty 200 ms
        // intervals no hang incident can open in between, even on a loaded machine, so B's
        // trail holds exactly the probe's incident.
        DETECTOR_MISSED_INTERVALS: '50',
      },
    });
    abuse = tenantAbuse(sys, { victim: B, attacker: A, keys: KEYS });
    bus = abuse.bus;
  });

  afterAll(async () => {
    abuse?.close();
    await sys?.stop();
  });

  // ---- The shared helpers (tenant-abuse-support.ts), bound to this system ---------------------

  const ingest: TenantAbuse['ingest'] = (...args) => abuse.ingest(...args);
  const ingestAsA: TenantAbuse['ingestAsAttacker'] = (...args) => abuse.ingestAsAttacker(...args);
  const auditOf: TenantAbuse['auditOf'] = (...args) => abuse.auditOf(...args);
  const mark: TenantAbuse['mark'] = () => abuse.mark();
  const crashProbe: TenantAbuse['crashProbe'] = (...args) => abuse.crashProbe(...args);
  const alertProbe: TenantAbuse['alertProbe'] = (...args) => abuse.alertProbe(...args);
  const deadLettersSince: TenantAbuse['deadLettersSince'] = (seq) => abuse.deadLettersSince(seq);
  const expectTenantUnaffected: TenantAbuse['expectTenantUnaffected'] = (since, probe) => abuse.expectTenantUnaffected(since, probe);
  const ofB = (e: SeenEvent) => e.event.tenantId === B;

  function nextInstance(): string {
    const instance = B_INSTANCES[nextB++];
    if (!instance) throw new Error(`more attacks than B has instances (${B_INSTANCES.length}); add instances to B_INSTANCES`);
    return instance;
  }

  // ---- The attacks ---------------------------------------------------------------------------

  it('a: A sends events carrying the ids of B’s future events (over HTTP ingest and over NATS as A’s producer); B’s events still open B’s incident', async () => {
    const since = await mark();
    const instance = nextInstance();
    const [overHttp, overNats] = [newEventId(), newEventId()];
    // Over HTTP: a heartbeat and an exit of A's own instance, each with an id B will use.
    const heartbeat = { ...newEvent('health.heartbeat', { tenantId: A, producer: 'mallory', data: { service: 'api', instance: 'a-1', intervalMs: 200, sequence: 1 } }), id: overHttp };
    expect((await ingestAsA(heartbeat)).body).toMatchObject({ accepted: 1, duplicates: 0, ids: [overHttp] });
    // Over NATS, as the SDK publishes: A's producer credentials, A's subject, B's future id.
    const producer: NatsConnection = await sys.as(`producer:${A}`);
    const onBus = { ...heartbeat, id: overNats };
    const ack = await jetstream(producer).publish(`health.${A}.api.a-1`, JSON.stringify(onBus), { msgID: deduplicationKey(A, overNats) });
    expect(ack.duplicate).toBe(false);

    await expectTenantUnaffected(since, crashProbe(instance, overHttp));
    // And the id taken over NATS, on B's next report of the same instance: stored, not a duplicate.
    const again = await ingest(B, KEYS.ingest[B], { ...newEvent('health.heartbeat', { tenantId: B, producer: 'b', data: { service: 'api', instance, intervalMs: 200, sequence: 1 } }), id: overNats });
    expect(again).toMatchObject({ status: 202, body: { accepted: 1, duplicates: 0, ids: [overNats] } });
  });

  it('b: A’s key on B’s paths gets exactly the answer an unknown key gets (401), and nothing of it is recorded for B', async () => {
    const since = await mark();
    const instance = nextInstance();
    // What A tries to make B's: an exit of B's instance (would open a crash incident) and a firing alert.
    const forged = exitedEvent(B, instance, 77);
    const asks = [
      { route: 'health-events' as const, body: JSON.stringify(forged) },
      { route: 'alertmanager' as const, body: JSON.stringify(alertPayload(instance, 'firing', new Date().toISOString())) },
    ];
    for (const { route, body } of asks) {
      const foreign = await ingest(B, KEYS.ingest[A], body, route);
      const unknown = await ingest(B, UNKNOWN_KEY, body, route);
      expect(foreign).toMatchObject({ status: 401, body: { code: 'invalid_api_key' } });
      expect(foreign.body).toEqual(unknown.body);
      for (const h of ['www-authenticate', 'connection', 'content-type']) expect(foreign.headers.get(h)).toBe(unknown.headers.get(h));
    }
    // The audit API refuses A's key on B's trail and records nothing for it (the probe's row check below).
    const read = await auditOf(B, KEYS.audit[A]);
    expect([401, 403]).toContain(read.status);

    // B's own exit of the same instance, exit code 100-199: the incident that opens is B's, not A's (77).
    await expectTenantUnaffected(since, crashProbe(instance));
    expect(bus.slice(since.bus).filter((e) => ofB(e) && e.event.type === 'incident.opened' && e.event.data.instance === instance)).toHaveLength(1);
  });

  it('b: A speaks for B — B’s tenant in the envelope, on A’s ingest path and on A’s own subject on the bus — and is refused as A’s', async () => {
    const since = await mark();
    const instance = nextInstance();
    const answer = await ingest(A, KEYS.ingest[A], exitedEvent(B, instance, 78));
    expect(answer).toMatchObject({ status: 400, body: { code: 'invalid_event' } });
    expect(answer.body.message).toContain('tenantId');
    const producer = await sys.as(`producer:${A}`);
    const onBus = exitedEvent(B, instance, 79);
    await jetstream(producer).publish(`health.${A}.api.${instance}`, JSON.stringify(onBus), { msgID: deduplicationKey(A, onBus.id) });
    await expectEventually(async () => {
      const letters = (await deadLettersSince(since.deadLetterSeq)).filter((d) => d.payload.includes(onBus.id));
      expect(letters.map((d) => ({ subject: d.subject, reason: d.reason }))).toEqual([{ subject: `health.${A}.api.${instance}`, reason: 'invalid_payload' }]);
    }, { timeoutMs: 20_000, intervalMs: 500 });

    await expectTenantUnaffected(since, crashProbe(instance));
    expect(bus.slice(since.bus).filter((e) => ofB(e) && e.event.type === 'incident.opened' && e.event.data.instance === instance)).toHaveLength(1);
  });

  it('c: A’s over-deep and oversized bodies get 400 and 413 naming the limit, without B noticing', async () => {
    const since = await mark();
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const tooDeep = await ingest(A, KEYS.ingest[A], deep);
    expect(tooDeep).toMatchObject({ status: 400, body: { code: 'too_deep' } });
    expect(tooDeep.body.message).toContain('DETECTOR_INGEST_MAX_DEPTH');
    // A contract-shaped event nested far below the limit of any consumer, sent on the bus with A's producer credentials.
    const producer = await sys.as(`producer:${A}`);
    // Built as text: stringifying 20,000 levels would overflow this process's own stack.
    const shell = JSON.stringify({ ...exitedEvent(A, 'a-1', 1), data: { service: 'api', instance: 'a-1', nested: 'NESTED' } });
    const poison = shell.replace('"NESTED"', `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`);
    await jetstream(producer).publish(`health.${A}.api.a-1`, poison);
    await expectEventually(async () => {
      const letters = (await deadLettersSince(since.deadLetterSeq)).filter((d) => d.subject === `health.${A}.api.a-1`);
      expect(letters.map((d) => ({ reason: d.reason, deliveries: d.deliveries, tooDeep: d.detail.includes('nests deeper than') }))).toEqual([{ reason: 'invalid_payload', deliveries: 1, tooDeep: true }]);
    }, { timeoutMs: 20_000, intervalMs: 500 });

    const big = 'x'.repeat(2 * 1024 * 1024);
    const tooLarge = await ingest(A, KEYS.ingest[A], big);
    expect(tooLarge).toMatchObject({ status: 413, body: { code: 'payload_too_large' } });
    expect(tooLarge.body.message).toContain('DETECTOR_INGEST_MAX_BODY_BYTES');

    await expectTenantUnaffected(since, crashProbe(nextInstance()));
  });

  it('c: A floods ingest past its request and byte quotas: 429 naming the quota, while B’s requests pass and B’s crash is healed', async () => {
    const since = await mark();
    const heartbeat = () => newEvent('health.heartbeat', { tenantId: A, producer: 'mallory', data: { service: 'api', instance: 'a-1', intervalMs: 200, sequence: 1 } });
    // 300 valid requests at once (the request burst is 100), then bodies of 900 KB that are not JSON (the byte burst is 1 MiB).
    const fromB = () => ingest(B, KEYS.ingest[B], newEvent('health.heartbeat', { tenantId: B, producer: 'b', data: { service: 'api', instance: B_INSTANCES[0], intervalMs: 200, sequence: 1 } }));
    // B reports during each flood: its own budgets are untouched.
    const [requests, duringRequests] = await Promise.all([Promise.all(Array.from({ length: 300 }, () => ingest(A, KEYS.ingest[A], heartbeat()))), fromB()]);
    // Then the bytes: 14 MB of bodies against a 1 MiB byte burst. A body refused by the request
    // budget the flood above spent is sent again as its Retry-After says, until the byte budget
    // or the parser answers it.
    const garbage = 'y'.repeat(900 * 1024);
    const pastRequestBudget = () =>
      expectEventually(async () => {
        const answer = await ingest(A, KEYS.ingest[A], garbage);
        expect(answer.body.message ?? '').not.toContain('DETECTOR_INGEST_REQUESTS_PER_SEC');
        return answer;
      }, { timeoutMs: 30_000, intervalMs: 200 });
    const [bytes, duringBytes] = await Promise.all([Promise.all(Array.from({ length: 16 }, pastRequestBudget)), fromB()]);
    expect(duringRequests).toMatchObject({ status: 202, body: { accepted: 1 } });
    expect(duringBytes).toMatchObject({ status: 202, body: { accepted: 1 } });

    const count = (answers: Answer[], status: number) => answers.filter((a) => a.status === status).length;
    expect({ accepted: count(requests, 202) > 0, refused: count(requests, 429) > 0, other: requests.length - count(requests, 202) - count(requests, 429) }).toEqual({ accepted: true, refused: true, other: 0 });
    const refusedRequest = requests.find((a) => a.status === 429)!;
    expect(refusedRequest.body.code).toBe('rate_limited');
    expect(refusedRequest.body.message).toContain('DETECTOR_INGEST_REQUESTS_PER_SEC');
    expect(Number(refusedRequest.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // The first are read and refused as malformed (400), the rest refused unread by the byte budget.
    expect(bytes.filter((a) => ![400, 429].includes(a.status)).map((a) => `${a.status} ${a.body.message ?? ''}`)).toEqual([]);
    expect(bytes.filter((a) => a.status === 400).map((a) => a.body.code)).toEqual(bytes.filter((a) => a.status === 400).map(() => 'malformed_json'));
    const overBytes = bytes.filter((a) => a.status === 429);
    expect(overBytes.length).toBeGreaterThan(0);
    for (const a of overBytes) expect(a.body.message).toContain('DETECTOR_INGEST_BYTES_PER_SEC');

    await expectTenantUnaffected(since, crashProbe(nextInstance()));
  });

  it('d: A’s Alertmanager payload crafted like B’s (same fingerprint, labels and times) leaves B’s alert to fire and resolve', async () => {
    const since = await mark();
    const instance = nextInstance();
    const startsAt = new Date(Date.now() - 1_000).toISOString();
    const endsAt = new Date(Date.now() + 60_000).toISOString();
    // A sends first exactly what B's Alertmanager will send: were alert ids derived from the alert alone, both would collide.
    for (const status of ['firing', 'resolved'] as const) {
      expect((await ingestAsA(alertPayload(instance, status, startsAt, status === 'resolved' ? endsAt : undefined), 'alertmanager')).body).toMatchObject({ accepted: 1, duplicates: 0 });
    }
    await expectTenantUnaffected(since, alertProbe(instance, startsAt, endsAt));
  });

  it('a: A’s producer publishes on its own subject under every Nats-Msg-Id it could compute in B’s namespace; B’s event with that id still opens B’s incident', async () => {
    const since = await mark();
    const instance = nextInstance();
    const id = newEventId();
    const producer = await sys.as(`producer:${A}`);
    const hb = { ...newEvent('health.heartbeat', { tenantId: A, producer: 'mallory', data: { service: 'api', instance: 'a-1', intervalMs: 200, sequence: 1 } }), id };
    // The stream deduplicates across every tenant's subjects by this header, and A may set it to
    // anything: B's old key (`B:<id>`), the bare id, and the shape of B's key today with a guessed tag.
    for (const msgID of [deduplicationKey(B, id), id, `${B}:${id}:`, `${B}:${id}:AAAAAAAAAAAAAAAAAAAAAA`]) {
      const ack = await jetstream(producer).publish(`health.${A}.api.a-1`, JSON.stringify(hb), { msgID });
      expect(ack.duplicate).toBe(false);
    }
    await expectTenantUnaffected(since, crashProbe(instance, id));
  });

  it('c: a body declared larger than the byte burst is refused with 413 naming the size limit, not a 429 it can never get past', async () => {
    // 5 MiB against a 4 MiB byte burst: no wait lets it through, so the answer must be the permanent one, every time.
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = await ingest(A, KEYS.ingest[A], 'x'.repeat(5 * 1024 * 1024));
      expect(answer).toMatchObject({ status: 413, body: { code: 'payload_too_large' } });
      expect(answer.body.message).toContain('DETECTOR_INGEST_MAX_BODY_BYTES');
    }
  });
});
