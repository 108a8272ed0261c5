import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Client } from 'pg';
import { STREAMS, type Envelope, type EventType, type StreamKey } from '@autoheal/contracts';
import { expectEventually, publishSigned, readStream, type TestKeys } from '@autoheal/testing';
import { INCIDENTS_CONSUMER } from '../decision.consumers.js';
import { startDecisionTestApp } from '../test-support/decision-test-app.js';
import { apiTenantDoc, incidentOpenedNow } from '../test-support/test-documents.js';

/**
 * Blast radius per tenant, tried as a hostile tenant would with nothing but its own producer key:
 * whatever incidents tenant `mallory` causes, another tenant's crash is remediated as usual and
 * nothing about a breaker lands in another tenant's trail. The breakers run at their defaults:
 * a tenant storms at 30 % of its declared instances (at least 3) within 60 s; the global breaker
 * needs 3 storming tenants here (6 tenants declare an inventory; never fewer than 2).
 */
const ADMIN_KEY = 'decision-blast-radius-key-0123456789';

const TENANTS = [
  apiTenantDoc('mallory', 4),
  // Many instances: the victim's own crashes over the whole file stay far below its own storm threshold.
  apiTenantDoc('victim', 40),
  apiTenantDoc('storm-1', 4),
  apiTenantDoc('storm-2', 4),
  apiTenantDoc('storm-3', 4),
  apiTenantDoc('quiet', 4),
  // Declares no inventory at all: nothing it reports can be checked.
  apiTenantDoc('bare', 0),
];

function crashed(tenantId: string, instance: string, service = 'api'): Envelope<'incident.opened'> {
  return incidentOpenedNow(tenantId, instance, { service, kind: 'crashed', severity: 'critical', evidence: { exitCode: 137 } });
}

interface BreakerView {
  open: boolean;
  reason: string | null;
  tenants: { tenantId: string; open: boolean; reason: string | null; resumedBy: string | null }[];
}

describe('blast radius: a tenant storm pauses that tenant only (real Postgres and nats-server)', () => {
  let stop: (() => Promise<void>) | undefined;
  let pg: Client;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let keys: TestKeys;
  let baseUrl: string;

  async function admin<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  async function published<T extends EventType>(stream: StreamKey, type: T): Promise<Envelope<T>[]> {
    return (await readStream<Envelope>(nc, STREAMS[stream].name)).filter((e) => e.type === type) as unknown as Envelope<T>[];
  }

  /** Publishes the incidents in stead of the detector, and waits until each was decided and what it caused has left the outbox. */
  async function decide(...incidents: Envelope<'incident.opened'>[]): Promise<void> {
    let seq = 0;
    for (const incident of incidents) seq = await publishSigned(nc, keys, incident);
    await expectEventually(
      async () => {
        const info = await jsm.consumers.info(STREAMS.incidents.name, INCIDENTS_CONSUMER.durable);
        expect(info.ack_floor.stream_seq).toBeGreaterThanOrEqual(seq);
        expect(info.num_ack_pending).toBe(0);
        const [{ n }] = (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM decision.outbox WHERE published_at IS NULL`)).rows;
        expect(n).toBe(0);
      },
      { timeoutMs: 20_000 },
    );
  }

  /** What the decision service announced about the incident (planned, escalated, …), by event type. */
  async function outcomeOf(incident: Envelope<'incident.opened'>): Promise<{ types: string[]; reasons: string[] }> {
    const events = (await readStream<Envelope>(nc, STREAMS.remediations.name)).filter((e) => e.correlationId === incident.data.incidentId);
    return { types: events.map((e) => e.type), reasons: events.map((e) => String((e.data as { reason?: string }).reason ?? '')) };
  }

  const breakerEventsOf = async (tenantId: string) =>
    [...(await published('compliance', 'compliance.breaker_opened')), ...(await published('compliance', 'compliance.breaker_resumed'))].filter((e) => e.tenantId === tenantId);

  beforeAll(async () => {
    ({ pg, nc, jsm, baseUrl, stop, keys } = await startDecisionTestApp({
      prefix: 'decision-blast-radius-',
      documents: TENANTS,
      env: { DECISION_ADMIN_API_KEY: ADMIN_KEY },
      natsClient: 'decision-blast-radius-test',
      consume: true,
      listen: true,
    }));
  });

  afterAll(async () => {
    await stop?.();
  });

  it('counts incidents on instances or services no inventory declares toward no breaker, and reports them', async () => {
    // Six invented instances of a declared service and three of an invented service: far past any
    // share of mallory's (4) or the fleet's declared instances.
    const invented = [
      ...Array.from({ length: 6 }, (_, i) => crashed('mallory', `ghost-${i + 1}`)),
      ...Array.from({ length: 3 }, (_, i) => crashed('mallory', `api-${i + 1}`, 'shadow')),
    ];
    await decide(...invented);
    const real = crashed('victim', 'api-1');
    await decide(real);

    const breaker = await admin<BreakerView>('GET', '/v1/admin/breaker');
    expect(breaker.body).toMatchObject({ open: false, tenants: [] });
    expect((await pg.query(`SELECT * FROM decision.tenant_breakers`)).rows).toEqual([]);
    expect(await published('compliance', 'compliance.breaker_opened')).toEqual([]);
    // The victim's crash is remediated as usual.
    expect((await outcomeOf(real)).types).toEqual(['remediation.planned']);
    // Every invented incident says it was not counted, and the metric counts them for mallory.
    for (const incident of invented) {
      const { reasons } = await outcomeOf(incident);
      expect(reasons.join(' | ')).toMatch(/not counted toward any circuit breaker: \S+ is not in the tenant's inventory/);
    }
    const standing = await pg.query<{ breaker_standing: string; n: number }>(
      `SELECT breaker_standing, count(*)::int AS n FROM decision.remediations WHERE tenant_id = 'mallory' GROUP BY 1`,
    );
    expect(standing.rows).toEqual([{ breaker_standing: 'undeclared', n: invented.length }]);
    const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/autoheal_decision_undeclared_instance_incidents_total\{tenant="mallory"[^}]*\} 9\b/);
    expect(metrics).not.toMatch(/autoheal_decision_undeclared_instance_incidents_total\{tenant="victim"/);
  });

  it("opens only mallory's breaker when its declared inventory storms; the victim's crash is still remediated; resumed per tenant", async () => {
    const storm = ['api-1', 'api-2', 'api-3'].map((i) => crashed('mallory', i));
    await decide(...storm);

    const breaker = await admin<BreakerView>('GET', '/v1/admin/breaker');
    expect(breaker.body.open).toBe(false);
    expect(breaker.body.tenants).toEqual([expect.objectContaining({ tenantId: 'mallory', open: true, reason: expect.stringMatching(/^tenant_breaker: mallory: 3 of 4 declared instances/) as string })]);
    // The storm's incidents are decided concurrently: whichever saw the breaker open is held with
    // its reason, the others were decided before it opened. From now on mallory's automatic actions pause.
    for (const incident of storm) {
      const { types, reasons } = await outcomeOf(incident);
      if (types[0] === 'remediation.escalated') expect(reasons[0]).toMatch(/circuit breaker is open.*tenant_breaker: mallory/);
      else expect(['remediation.planned', 'remediation.deferred']).toContain(types[0]);
    }
    const more = crashed('mallory', 'api-4');
    await decide(more);
    const held = await outcomeOf(more);
    expect(held.types).toEqual(['remediation.escalated']);
    expect(held.reasons[0]).toMatch(/circuit breaker is open.*tenant_breaker: mallory: 3 of 4 declared instances/);

    // The victim is untouched: its crash is planned, and nothing about a breaker is in its trail.
    const real = crashed('victim', 'api-2');
    await decide(real);
    expect((await outcomeOf(real)).types).toEqual(['remediation.planned']);
    expect(await breakerEventsOf('victim')).toEqual([]);
    await expectEventually(async () => {
      const opened = await published('compliance', 'compliance.breaker_opened');
      expect(opened.map((e) => [e.tenantId, e.data.scope])).toEqual([['mallory', 'tenant']]);
    });

    // Resuming an unknown tenant's breaker changes nothing and creates nothing.
    const unknown = await admin<{ resumed: boolean; open: boolean }>('POST', '/v1/admin/breaker/tenants/nobody:resume', { reason: 'probing' });
    expect(unknown).toEqual({ status: 200, body: expect.objectContaining({ tenantId: 'nobody', open: false, resumed: false }) as unknown });
    expect((await pg.query(`SELECT tenant_id FROM decision.tenant_breakers ORDER BY 1`)).rows).toEqual([{ tenant_id: 'mallory' }]);

    const resumed = await admin<{ resumed: boolean; open: boolean; resumedBy: string }>('POST', '/v1/admin/breaker/tenants/mallory:resume', {
      reason: 'bad deploy rolled back',
    });
    expect(resumed.body).toMatchObject({ tenantId: 'mallory', open: false, resumed: true, resumedBy: 'bootstrap-admin' });
    await expectEventually(async () => {
      const resumes = await published('compliance', 'compliance.breaker_resumed');
      expect(resumes.map((e) => [e.tenantId, e.data.scope, e.data.resumedBy])).toEqual([['mallory', 'tenant', 'bootstrap-admin']]);
    });
    expect(await breakerEventsOf('victim')).toEqual([]);
    // What stormed before the resume was judged by the human: mallory's next crash is decided on
    // its merits again — deferred here, since the remediations planned for its invented instances
    // of \`api\` fill the service's concurrency cap — and no longer held by a breaker.
    const after = crashed('mallory', 'api-4');
    await decide(after);
    const decided = await outcomeOf(after);
    expect(decided.types).toEqual(['remediation.deferred']);
    expect(decided.reasons.join(' ')).not.toMatch(/circuit/);
  });

  it('lets a tenant that declares no inventory open its own breaker only, at the floor of 5 instances', async () => {
    const first = ['a-1', 'a-2', 'a-3', 'a-4'].map((i) => crashed('bare', i));
    await decide(...first);
    expect((await admin<BreakerView>('GET', '/v1/admin/breaker')).body.tenants.find((t) => t.tenantId === 'bare')).toBeUndefined();
    await decide(crashed('bare', 'a-5'));
    const breaker = await admin<BreakerView>('GET', '/v1/admin/breaker');
    expect(breaker.body.open).toBe(false);
    expect(breaker.body.tenants.find((t) => t.tenantId === 'bare')).toMatchObject({ open: true, reason: expect.stringMatching(/5 instances of a tenant that declares no inventory/) as string });
    expect(await breakerEventsOf('victim')).toEqual([]);
  });

  it('opens the global breaker only when several tenants storm at once', async () => {
    await decide(...['api-1', 'api-2', 'api-3'].map((i) => crashed('storm-1', i)));
    await decide(...['api-1', 'api-2', 'api-3'].map((i) => crashed('storm-2', i)));
    // Two storming tenants (a third would be needed; bare declares nothing and does not count).
    let breaker = await admin<BreakerView>('GET', '/v1/admin/breaker');
    expect(breaker.body.open).toBe(false);
    expect(breaker.body.tenants.filter((t) => t.open).map((t) => t.tenantId).sort()).toEqual(['bare', 'storm-1', 'storm-2']);
    const before = crashed('victim', 'api-3');
    await decide(before);
    expect((await outcomeOf(before)).types).toEqual(['remediation.planned']);

    await decide(...['api-1', 'api-2', 'api-3'].map((i) => crashed('storm-3', i)));
    breaker = await admin<BreakerView>('GET', '/v1/admin/breaker');
    expect(breaker.body).toMatchObject({ open: true, reason: expect.stringMatching(/^circuit_breaker: 3 of 6 tenants storming within 60s \(storm-1, storm-2, storm-3; threshold 3\)/) as string });
    // It stops everyone, so every tenant's trail says so.
    await expectEventually(async () => {
      const global = (await published('compliance', 'compliance.breaker_opened')).filter((e) => e.data.scope === 'global');
      expect(global.map((e) => e.tenantId).sort()).toEqual(TENANTS.map((t) => t.tenantId).sort());
    });
    const held = crashed('victim', 'api-4');
    await decide(held);
    const outcome = await outcomeOf(held);
    expect(outcome.types).toEqual(['remediation.escalated']);
    expect(outcome.reasons[0]).toMatch(/circuit breaker is open.*3 of 6 tenants storming/);
  });
});
