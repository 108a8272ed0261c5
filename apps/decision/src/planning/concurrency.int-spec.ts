import type { INestApplication } from '@nestjs/common';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import { newEvent, STREAMS, type Envelope, type EventType, type StreamKey } from '@autoheal/contracts';
import { EventPublisher } from '@autoheal/messaging';
import { expectEventually, readStream, type TestDatabase, type TestKeys } from '@autoheal/testing';
import { INCIDENTS_CONSUMER } from '../decision.consumers.js';
import { OutcomesService } from '../outcomes/outcomes.service.js';
import { FLEET_BREAKER_OFF, startDecisionTestEnv } from '../test-support/decision-test-app.js';
import { DeferralsWorker } from './deferrals.worker.js';
import { PlanningService, type PlanningOutcome } from './planning.service.js';
import { apiTenantDoc, incidentOpenedNow } from '../test-support/test-documents.js';
import type { Framework, ProfileThresholds, TenantDocument } from './policy-port.js';
import { IN_FLIGHT_STATUSES } from './remediations.repository.js';

/*
 * Two decision services deciding the same tenant's incidents at once. Each app has its own
 * TypeORM DataSource (its own Postgres pool) and its own NATS connection, and both consume the
 * same durable consumer as competing consumers: to Postgres and JetStream they are two
 * processes, and each also decides up to INCIDENTS_CONSUMER.concurrency incidents at once. They
 * share this one Node process (and its metrics registry); the caps are counted under a Postgres
 * advisory lock, so nothing they share in memory takes part in what is under test.
 * Without that lock (the tenant lock of lockBreakerSharedThenTenant made a no-op) this suite sees 13–16 plans instead of 7 and 6.
 */

const INSTANCES = 100;
const RESTART_ONLY = { heartbeat_missed: { candidates: [{ action: 'restart' }] } };

interface Case {
  name: string;
  tenantId: string;
  frameworks: Framework[];
  overrides: Partial<ProfileThresholds>;
  /** ceil(maxConcurrentShare × 100 instances). */
  concurrencyCap: number;
  hourlyCap: number;
  /** The rule that refuses every incident past min(caps). */
  binding: 'service_concurrency' | 'max_auto_actions_per_hour';
  /** The concurrency cap only paces healing (the incident waits for a slot); the spent hourly budget escalates. */
  refusedAs: 'deferred' | 'escalated';
}

const CASES: Case[] = [
  // No framework allows 20 automatic actions an hour; 7 % of 100 instances at once binds first,
  // and three rounds of slots freeing up fit under the hourly cap (see the last test).
  { name: 'the concurrency cap binds', tenantId: 'crowded', frameworks: [], overrides: { maxConcurrentShare: 0.07 }, concurrencyCap: 7, hourlyCap: 20, binding: 'service_concurrency', refusedAs: 'deferred' },
  // No framework: half the instances at once (50); 6 automatic actions an hour binds first.
  { name: 'the hourly cap binds', tenantId: 'hurried', frameworks: [], overrides: { maxAutoActionsPerHour: 6 }, concurrencyCap: 50, hourlyCap: 6, binding: 'max_auto_actions_per_hour', refusedAs: 'escalated' },
];

function tenantDoc(c: Case): TenantDocument {
  return apiTenantDoc(c.tenantId, INSTANCES, { frameworks: c.frameworks, overrides: c.overrides, playbooks: RESTART_ONLY });
}

interface Decided {
  app: string;
  tenantId: string;
  incidentId: string;
  outcome: PlanningOutcome;
}

describe('two decision services deciding one tenant at once (real Postgres and nats-server)', () => {
  let stop: (() => Promise<void>) | undefined;
  let db: TestDatabase;
  let pg: Client;
  let nc: NatsConnection;
  let keys: TestKeys;
  let jsm: JetStreamManager;
  const apps: INestApplication[] = [];
  /** What each app's PlanningService decided, as it returned it. */
  const decided: Decided[] = [];

  async function published<T extends EventType>(stream: StreamKey, type: T): Promise<Envelope<T>[]> {
    return (await readStream<Envelope>(nc, STREAMS[stream].name)).filter((e) => e.type === type) as unknown as Envelope<T>[];
  }

  beforeAll(async () => {
    const env = await startDecisionTestEnv({
      prefix: 'decision-concurrency-test-',
      documents: CASES.map(tenantDoc),
      // 100 failing instances of 200 would trip the fleet breaker at its defaults; only the caps are under test.
      env: FLEET_BREAKER_OFF,
      // The workers stay off: the test runs the deferral workers itself, both at once.
      natsClient: 'decision-concurrency-test',
    });
    ({ db, pg, nc, jsm, stop, keys } = env);
    // One after the other, as a rolling deploy would start them; both are up before anything is published.
    for (const name of ['decision-a', 'decision-b']) {
      const { app } = await env.boot({
        consume: true,
        beforeInit: (app) => {
          const planning = app.get(PlanningService);
          const decide = planning.onIncidentOpened.bind(planning);
          // Notes which app took each decision; the decision itself is untouched.
          planning.onIncidentOpened = async (event) => {
            const outcome = await decide(event);
            decided.push({ app: name, tenantId: event.tenantId, incidentId: event.data.incidentId, outcome });
            return outcome;
          };
        },
      });
      apps.push(app);
    }
  });

  afterAll(async () => {
    await stop?.();
  });

  it.each(CASES)('$name: 100 simultaneous incidents yield exactly min(caps) plans across both services', async (c) => {
    const expectedPlans = Math.min(c.concurrencyCap, c.hourlyCap);
    const incidents = Array.from({ length: INSTANCES }, (_, i) => incidentOpenedNow(c.tenantId, `api-${i + 1}`));
    const ids = incidents.map((i) => i.data.incidentId);
    const publisher = new EventPublisher(nc, { signer: keys.key('detector') });
    const acks = await Promise.all(incidents.map((i) => publisher.publish(i)));
    const last = Math.max(...acks.map((a) => a.seq));

    // Settled: every incident was acknowledged by one of the apps, and what it caused has left the outbox.
    await expectEventually(
      async () => {
        const info = await jsm.consumers.info(STREAMS.incidents.name, INCIDENTS_CONSUMER.durable);
        expect(info.ack_floor.stream_seq).toBeGreaterThanOrEqual(last);
        expect([info.num_pending, info.num_ack_pending]).toEqual([0, 0]);
        const [{ n }] = (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM decision.outbox WHERE published_at IS NULL`)).rows;
        expect(n).toBe(0);
      },
      { timeoutMs: 30_000 },
    );

    // The database: one decision per incident; exactly min(caps) planned; every other deferred or escalated by the binding cap.
    const { rows } = await pg.query<{ incident_id: string; remediation_id: string; status: string; refusal_rule: string | null; planned_at: Date | null }>(
      `SELECT incident_id, remediation_id, status, refusal_rule, planned_at FROM decision.remediations WHERE tenant_id = $1`,
      [c.tenantId],
    );
    expect(rows.map((r) => r.incident_id).sort()).toEqual([...ids].sort());
    const planned = rows.filter((r) => r.status === 'planned');
    expect(planned).toHaveLength(expectedPlans);
    for (const r of planned) expect(r.planned_at).toBeInstanceOf(Date);
    const refused = rows.filter((r) => r.status !== 'planned');
    expect(refused.map((r) => [r.status, r.refusal_rule])).toEqual(refused.map(() => [c.refusedAs, c.binding]));

    // The hourly cap: automatic actions of the tenant within the hour up to the last of them.
    const [{ hour }] = (
      await pg.query<{ hour: number }>(
        `SELECT count(*)::int AS hour FROM decision.remediations
         WHERE tenant_id = $1 AND planned_at > (SELECT max(planned_at) FROM decision.remediations WHERE tenant_id = $1) - interval '1 hour'`,
        [c.tenantId],
      )
    ).rows;
    expect(hour).toBeLessThanOrEqual(c.hourlyCap);
    // The concurrency cap: remediations that may still act on the service (nothing has finished).
    const [{ inFlight }] = (
      await pg.query<{ inFlight: number }>(`SELECT count(*)::int AS "inFlight" FROM decision.remediations WHERE tenant_id = $1 AND service = 'api' AND status = ANY($2::text[])`, [
        c.tenantId,
        IN_FLIGHT_STATUSES,
      ])
    ).rows;
    expect(inFlight).toBeLessThanOrEqual(c.concurrencyCap);
    // Whichever binds is met exactly.
    expect(c.binding === 'service_concurrency' ? inFlight : hour).toBe(expectedPlans);

    // The published events: one decision event per incident, never two plans for one incident.
    const mine = <T extends { data: { incidentId: string } }>(events: T[]) => events.filter((e) => ids.includes(e.data.incidentId));
    const plans = mine(await published('remediations', 'remediation.planned'));
    const escalations = mine(await published('remediations', 'remediation.escalated'));
    const deferrals = mine(await published('remediations', 'remediation.deferred'));
    const refusals = mine(await published('compliance', 'compliance.action_refused'));
    expect(plans).toHaveLength(expectedPlans);
    expect(new Set(plans.map((p) => p.data.incidentId)).size).toBe(expectedPlans);
    expect(plans.map((p) => p.data.remediationId).sort()).toEqual(planned.map((r) => r.remediation_id).sort());
    expect([...plans, ...escalations, ...deferrals].map((e) => e.data.incidentId).sort()).toEqual([...ids].sort());
    expect((c.refusedAs === 'deferred' ? deferrals : escalations).length).toBe(INSTANCES - expectedPlans);
    // A deferral is no compliance refusal: its refusals travel in the event.
    for (const d of deferrals) expect(d.data.refusals.map((r) => r.rule)).toEqual([c.binding]);
    expect(refusals.map((r) => r.data.rule)).toEqual(escalations.map(() => c.binding));
    expect(refusals.map((r) => r.data.incidentId).sort()).toEqual(escalations.map((e) => e.data.incidentId).sort());

    // Both services took part, and between them decided each incident once.
    const ours = decided.filter((d) => d.tenantId === c.tenantId && d.outcome.kind !== 'duplicate_event' && d.outcome.kind !== 'already_decided');
    const byApp = (app: string) => ours.filter((d) => d.app === app);
    expect(ours.map((d) => d.incidentId).sort()).toEqual([...ids].sort());
    expect(byApp('decision-a').length).toBeGreaterThan(0);
    expect(byApp('decision-b').length).toBeGreaterThan(0);
    process.stdout.write(
      `[concurrency] ${c.tenantId}: decision-a decided ${byApp('decision-a').length} (${byApp('decision-a').filter((d) => d.outcome.kind === 'plan').length} plans), ` +
        `decision-b ${byApp('decision-b').length} (${byApp('decision-b').filter((d) => d.outcome.kind === 'plan').length} plans)\n`,
    );
  });

  it('the concurrency cap binds: as slots free, both services decide the deferred incidents again and the cap holds at every moment', async () => {
    const c = CASES[0];
    const services = apps.map((app) => ({ outcomes: app.get(OutcomesService), deferrals: app.get(DeferralsWorker), planning: app.get(PlanningService) }));
    type Row = { incident_id: string; remediation_id: string; instance: string; status: string; refusal_rule: string | null; planned_at: Date | null };
    const rowsNow = async () => (await pg.query<Row>(`SELECT incident_id, remediation_id, instance, status, refusal_rule, planned_at FROM decision.remediations WHERE tenant_id = $1`, [c.tenantId])).rows;
    const inFlightSql = `SELECT count(*)::int AS n FROM decision.remediations WHERE tenant_id = $1 AND service = 'api' AND status = ANY($2::text[])`;

    // From outside both services, the number of remediations in flight, sampled for as long as they work.
    const probe = new Client({ connectionString: db.url });
    await probe.connect();
    const samples: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) samples.push((await probe.query<{ n: number }>(inFlightSql, [c.tenantId, IN_FLIGHT_STATUSES])).rows[0].n);
    })();

    const succeeded = (r: Row) =>
      newEvent('remediation.succeeded', {
        tenantId: c.tenantId,
        producer: 'executor',
        correlationId: r.incident_id,
        data: { remediationId: r.remediation_id, incidentId: r.incident_id, service: 'api', instance: r.instance, action: 'restart', durationMs: 1, details: {} },
      });
    // The instance recovers: the remediation is verified, which is what frees its slot.
    const resolved = (r: Row) =>
      newEvent('incident.resolved', {
        tenantId: c.tenantId,
        producer: 'detector',
        correlationId: r.incident_id,
        data: { incidentId: r.incident_id, service: 'api', instance: r.instance, kind: 'crashed', resolvedAt: new Date().toISOString(), reason: 'recovered', durationMs: 1 },
      });
    const rounds: { deferredBefore: number; plannedBefore: number; inFlight: number }[] = [];
    try {
      for (let round = 0; round < 10; round++) {
        const before = await rowsNow();
        const deferredBefore = before.filter((r) => r.status === 'deferred').length;
        if (deferredBefore === 0) break;
        // Every remediation in flight finishes, each outcome handled by one of the services, all at once…
        const running = before.filter((r) => r.status === 'planned');
        await Promise.all(running.map((r, i) => services[i % 2].outcomes.onSucceeded(succeeded(r))));
        await Promise.all(running.map((r, i) => services[(i + 1) % 2].planning.onIncidentResolved(resolved(r))));
        // … which makes the deferrals due; both services decide them again at the same time.
        await Promise.all(services.map((svc) => svc.deferrals.tick(INSTANCES)));
        const [{ n }] = (await pg.query<{ n: number }>(inFlightSql, [c.tenantId, IN_FLIGHT_STATUSES])).rows;
        rounds.push({ deferredBefore, plannedBefore: before.filter((r) => r.planned_at !== null).length, inFlight: n });
      }
    } finally {
      sampling = false;
      await sampler;
      await probe.end();
    }

    // Each round fills exactly the free slots (all of the cap), unless the deferrals or the hour's budget run out first.
    for (const r of rounds) expect(r.inFlight).toBe(Math.min(c.concurrencyCap, r.deferredBefore, c.hourlyCap - r.plannedBefore));
    expect(rounds.length).toBeGreaterThanOrEqual(2);
    expect(samples.length).toBeGreaterThan(rounds.length);
    expect(Math.max(...samples)).toBeLessThanOrEqual(c.concurrencyCap);

    // Once the hour's budget is spent, what still waited escalates: that cap is not a pace but a budget.
    const after = await rowsNow();
    expect(after.filter((r) => r.planned_at !== null)).toHaveLength(c.hourlyCap);
    expect(after.filter((r) => r.status === 'deferred')).toHaveLength(0);
    const escalated = after.filter((r) => r.status === 'escalated');
    expect(escalated).toHaveLength(INSTANCES - c.hourlyCap);
    for (const r of escalated) expect(r.refusal_rule).toBe('max_auto_actions_per_hour');

    // Every incident was planned at most once, in its own remediation row; re-checks on unchanged grounds published nothing.
    await expectEventually(async () => {
      const [{ n }] = (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM decision.outbox WHERE published_at IS NULL`)).rows;
      expect(n).toBe(0);
    });
    const ids = after.map((r) => r.incident_id);
    const mine = <T extends { data: { incidentId: string } }>(events: T[]) => events.filter((e) => ids.includes(e.data.incidentId));
    const plans = mine(await published('remediations', 'remediation.planned'));
    expect(plans.map((p) => p.data.remediationId).sort()).toEqual(after.filter((r) => r.planned_at !== null).map((r) => r.remediation_id).sort());
    expect(mine(await published('remediations', 'remediation.deferred'))).toHaveLength(INSTANCES - c.concurrencyCap);
    expect(mine(await published('remediations', 'remediation.escalated')).map((e) => e.data.incidentId).sort()).toEqual(escalated.map((r) => r.incident_id).sort());
  });
});
