import type { INestApplication } from '@nestjs/common';
import { type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Client } from 'pg';
import { newEvent, STREAMS, type Envelope, type EventType, type StreamKey } from '@autoheal/contracts';
import { expectEventually, readStream, publishSigned, type TestKeys } from '@autoheal/testing';
import type { Clock } from '../clock.js';
import { INCIDENTS_CONSUMER, OUTCOMES_CONSUMER } from '../decision.consumers.js';
import { FLEET_BREAKER_OFF, startDecisionTestApp } from '../test-support/decision-test-app.js';
import { DeferralsWorker } from './deferrals.worker.js';
import { apiTenantDoc, incidentOpenedNow } from '../test-support/test-documents.js';
import type { TenantDocument } from './policy-port.js';

const SEC = 1000;
const MIN = 60 * SEC;
const RECHECK_MS = 15 * SEC;
/** SOC 2: half the instances at once, a 1 min cooldown, 30 min to remediate, so deferred for 15 min at most. */
const LIMIT_MS = 15 * MIN;

/** SOC 2, restart only, `count` instances of `api`, paged through a PagerDuty-compatible target (never called: deliveries are off). */
function tenantDoc(tenantId: string, count: number): TenantDocument {
  return apiTenantDoc(tenantId, count, {
    playbooks: { heartbeat_missed: { candidates: [{ action: 'restart' }] } },
    escalation: { targets: [{ kind: 'pagerduty', name: 'oncall', secretRef: 'ONCALL_ROUTING_KEY', url: 'http://127.0.0.1:9/v2/enqueue' }] },
  });
}

const TENANTS = [tenantDoc('paced', 4), tenantDoc('freed', 2), tenantDoc('cooling', 4), tenantDoc('stuck', 2), tenantDoc('healed', 2)];

describe('deferred decisions (real Postgres and nats-server)', () => {
  let stop: (() => Promise<void>) | undefined;
  let pg: Client;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let app: INestApplication;
  let keys: TestKeys;
  let worker: DeferralsWorker;
  /** The service's clock: it moves only when a test moves it. */
  let now = Date.now();
  const clock: Clock = { now: () => new Date(now) };
  const iso = (ms: number) => new Date(ms).toISOString();

  async function publish(event: Envelope): Promise<number> {
    return publishSigned(nc, keys, event);
  }

  async function published<T extends EventType>(stream: StreamKey, type: T, incidentId: string): Promise<Envelope<T>[]> {
    const events = await readStream<Envelope>(nc, STREAMS[stream].name);
    return events.filter((e) => e.type === type && (e.data as { incidentId?: string }).incidentId === incidentId) as unknown as Envelope<T>[];
  }

  /** Every message up to `seq` was handled and acknowledged, and what it caused has left the outbox. */
  async function settled(stream: StreamKey, durable: string, seq: number): Promise<void> {
    await expectEventually(async () => {
      const info = await jsm.consumers.info(STREAMS[stream].name, durable);
      expect(info.ack_floor.stream_seq).toBeGreaterThanOrEqual(seq);
      expect(info.num_ack_pending).toBe(0);
      await outboxEmpty();
    }, { timeoutMs: 15_000 });
  }

  async function outboxEmpty(): Promise<void> {
    await expectEventually(async () => {
      const [{ n }] = (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM decision.outbox WHERE published_at IS NULL`)).rows;
      expect(n).toBe(0);
    });
  }

  /** Opens one incident per instance at once and returns, per instance, the decision it got. */
  async function open(tenantId: string, instances: string[]): Promise<{ incidents: Envelope<'incident.opened'>[]; planned: Envelope<'incident.opened'>[]; deferred: Envelope<'incident.opened'>[] }> {
    const incidents = instances.map((instance) => incidentOpenedNow(tenantId, instance));
    let seq = 0;
    for (const incident of incidents) seq = await publish(incident);
    await settled('incidents', INCIDENTS_CONSUMER.durable, seq);
    const statuses: string[] = [];
    for (const incident of incidents) statuses.push((await row(incident.data.incidentId)).status);
    return { incidents, planned: incidents.filter((_, i) => statuses[i] === 'planned'), deferred: incidents.filter((_, i) => statuses[i] === 'deferred') };
  }

  async function row(incidentId: string) {
    const { rows } = await pg.query<{
      remediation_id: string;
      status: string;
      refusal_rule: string | null;
      reason: string;
      planned_at: Date | null;
      retry_at: Date | null;
      deferred_at: Date | null;
      incident_resolved_at: Date | null;
    }>(`SELECT remediation_id, status, refusal_rule, reason, planned_at, retry_at, deferred_at, incident_resolved_at FROM decision.remediations WHERE incident_id = $1`, [incidentId]);
    expect(rows).toHaveLength(1);
    return rows[0];
  }

  async function succeed(incident: Envelope<'incident.opened'>): Promise<void> {
    const { remediation_id } = await row(incident.data.incidentId);
    const event = newEvent('remediation.succeeded', {
      tenantId: incident.tenantId,
      producer: 'executor',
      correlationId: incident.data.incidentId,
      data: { remediationId: remediation_id, incidentId: incident.data.incidentId, service: 'api', instance: incident.data.instance, action: 'restart', durationMs: 40, details: {} },
    });
    await settled('remediations', OUTCOMES_CONSUMER.durable, await publish(event));
  }
  /** The detector sees the instance recover: a remediation the driver reported done is verified, and frees its slot. */
  async function recover(incident: Envelope<'incident.opened'>): Promise<void> {
    const { incidentId, instance } = incident.data;
    const resolved = newEvent('incident.resolved', {
      tenantId: incident.tenantId,
      producer: 'detector',
      correlationId: incidentId,
      data: { incidentId, service: 'api', instance, kind: 'heartbeat_missed', resolvedAt: iso(now), reason: 'heartbeats resumed', durationMs: 2000 },
    });
    await settled('incidents', INCIDENTS_CONSUMER.durable, await publish(resolved));
  }


  /** Runs the worker once (as the interval would) and returns what became of this incident's deferral. */
  async function tick(incidentId: string) {
    return (await worker.tick()).filter((r) => r.incidentId === incidentId);
  }

  async function deliveries(incidentId: string): Promise<number> {
    return (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM decision.escalation_deliveries WHERE incident_id = $1`, [incidentId])).rows[0].n;
  }

  beforeAll(async () => {
    ({ app, pg, nc, jsm, stop, keys } = await startDecisionTestApp({
      prefix: 'decision-deferral-test-',
      documents: TENANTS,
      // The tests run the worker themselves, at the time they set.
      env: { ...FLEET_BREAKER_OFF, DECISION_DEFER_RECHECK_MS: String(RECHECK_MS) },
      clock,
      consume: true,
      natsClient: 'decision-deferral-test',
    }));
    worker = app.get(DeferralsWorker);
  });

  afterAll(async () => {
    await stop?.();
  });

  it('defers, not escalates, an incident the concurrency cap refuses, and pages nobody', async () => {
    // 3 of 4 instances fail at once; half of them (2) may be acted on at once.
    const { planned, deferred } = await open('paced', ['api-1', 'api-2', 'api-3']);
    expect(planned).toHaveLength(2);
    expect(deferred).toHaveLength(1);
    const [waiting] = deferred;
    const { incidentId } = waiting.data;

    const stored = await row(incidentId);
    expect(stored).toMatchObject({ status: 'deferred', refusal_rule: 'service_concurrency', planned_at: null, retry_at: new Date(now + RECHECK_MS), deferred_at: new Date(now) });
    const events = await published('remediations', 'remediation.deferred', incidentId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      tenantId: 'paced',
      correlationId: incidentId,
      causationId: waiting.id,
      data: {
        remediationId: stored.remediation_id,
        instance: waiting.data.instance,
        retryAt: iso(now + RECHECK_MS),
        deferredSince: iso(now),
        escalateAt: iso(now + LIMIT_MS),
        refusals: [{ action: 'restart', rule: 'service_concurrency', reason: expect.stringMatching(/2 remediation\(s\) already in flight on api; at most 2 of its 4/) as string }],
      },
    });
    expect(events[0].data.reason).toMatch(/deferred, not escalated/);
    expect(await published('remediations', 'remediation.escalated', incidentId)).toHaveLength(0);
    expect(await published('compliance', 'compliance.action_refused', incidentId)).toHaveLength(0);
    expect(await deliveries(incidentId)).toBe(0);
    // Not due yet.
    expect(await tick(incidentId)).toEqual([]);
  });

  it('plans the deferred incident in its own remediation row once a verified outcome frees a slot and the worker runs', async () => {
    const { planned, deferred } = await open('freed', ['api-1', 'api-2']);
    expect([planned.length, deferred.length]).toEqual([1, 1]);
    const [waiting] = deferred;
    const before = await row(waiting.data.incidentId);
    const deferredAt = now;

    now += 3 * SEC;
    await succeed(planned[0]);
    // Done by the driver's word only: the slot stays taken until the incident resolves.
    expect((await row(planned[0].data.incidentId)).status).toBe('verifying');
    expect((await row(waiting.data.incidentId)).retry_at).toEqual(new Date(deferredAt + RECHECK_MS));
    now += SEC;
    await recover(planned[0]);
    expect((await row(planned[0].data.incidentId)).status).toBe('verified');
    // The verification made the deferral due at once, well before its recheck.
    expect((await row(waiting.data.incidentId)).retry_at).toEqual(new Date(now));

    expect(await tick(waiting.data.incidentId)).toEqual([{ incidentId: waiting.data.incidentId, remediationId: before.remediation_id, kind: 'plan', announced: true }]);
    expect(await row(waiting.data.incidentId)).toMatchObject({ remediation_id: before.remediation_id, status: 'planned', planned_at: new Date(now), retry_at: null, deferred_at: new Date(deferredAt) });
    await outboxEmpty();
    const plans = await published('remediations', 'remediation.planned', waiting.data.incidentId);
    expect(plans).toHaveLength(1);
    expect(plans[0]).toMatchObject({ causationId: waiting.id, correlationId: waiting.data.incidentId, data: { remediationId: before.remediation_id, action: 'restart', instance: waiting.data.instance } });
    expect(await published('remediations', 'remediation.escalated', waiting.data.incidentId)).toHaveLength(0);
  });

  it('defers an incident in its cooldown until the cooldown ends, then plans it', async () => {
    const first = await open('cooling', ['api-1']);
    const plannedAt = now;
    await succeed(first.planned[0]);
    now += 10 * SEC;
    // api-1 fails again: 1 min must pass after the last restart (SOC 2).
    const again = await open('cooling', ['api-1']);
    expect(again.deferred).toHaveLength(1);
    const { incidentId } = again.deferred[0].data;
    expect(await row(incidentId)).toMatchObject({ status: 'deferred', refusal_rule: 'cooldown', retry_at: new Date(plannedAt + MIN) });
    const [event] = await published('remediations', 'remediation.deferred', incidentId);
    expect(event.data).toMatchObject({ retryAt: iso(plannedAt + MIN), refusals: [{ rule: 'cooldown', action: 'restart' }] });

    now = plannedAt + MIN - 1;
    expect(await tick(incidentId)).toEqual([]);
    now = plannedAt + MIN;
    expect(await tick(incidentId)).toEqual([expect.objectContaining({ incidentId, kind: 'plan' })]);
    expect(await row(incidentId)).toMatchObject({ status: 'planned', planned_at: new Date(now), retry_at: null });
  });

  it('stays deferred quietly while refused, then escalates once deferred too long', async () => {
    const { deferred } = await open('stuck', ['api-1', 'api-2']);
    const [waiting] = deferred;
    const { incidentId } = waiting.data;
    const since = now;

    // Checked again, still no slot: the row moves on, nothing new is published, nobody is paged.
    now += RECHECK_MS;
    expect(await tick(incidentId)).toEqual([expect.objectContaining({ incidentId, kind: 'defer', announced: false })]);
    expect(await row(incidentId)).toMatchObject({ status: 'deferred', retry_at: new Date(now + RECHECK_MS), deferred_at: new Date(since) });
    await outboxEmpty();
    expect(await published('remediations', 'remediation.deferred', incidentId)).toHaveLength(1);
    expect(await deliveries(incidentId)).toBe(0);

    now = since + LIMIT_MS;
    expect(await tick(incidentId)).toEqual([expect.objectContaining({ incidentId, kind: 'escalate', announced: true })]);
    const stored = await row(incidentId);
    expect(stored).toMatchObject({ status: 'escalated', refusal_rule: 'service_concurrency', retry_at: null, planned_at: null });
    expect(stored.reason).toMatch(/; waited too long: deferred since .* for 900s, the limit of 900s \(half the maximum time to remediate\) has passed; escalating to a human$/);
    await outboxEmpty();
    const [escalation] = await published('remediations', 'remediation.escalated', incidentId);
    expect(escalation).toMatchObject({ causationId: waiting.id, data: { remediationId: stored.remediation_id } });
    const refusals = await published('compliance', 'compliance.action_refused', incidentId);
    expect(refusals.map((r) => r.data.rule)).toEqual(['service_concurrency']);
    expect(await deliveries(incidentId)).toBe(1);
  });

  it('closes a deferred incident that resolves without acting on it', async () => {
    const { planned, deferred } = await open('healed', ['api-1', 'api-2']);
    const [waiting] = deferred;
    const { incidentId } = waiting.data;
    const resolved = newEvent('incident.resolved', {
      tenantId: 'healed',
      producer: 'detector',
      correlationId: incidentId,
      data: { incidentId, service: 'api', instance: waiting.data.instance, kind: 'heartbeat_missed', resolvedAt: iso(now), reason: 'heartbeats resumed', durationMs: 2000 },
    });
    await settled('incidents', INCIDENTS_CONSUMER.durable, await publish(resolved));
    expect(await row(incidentId)).toMatchObject({ status: 'resolved', retry_at: null, incident_resolved_at: new Date(now) });

    // The slot frees and time passes: nothing is decided for it any more.
    await succeed(planned[0]);
    await recover(planned[0]);
    now += LIMIT_MS;
    expect(await tick(incidentId)).toEqual([]);
    await outboxEmpty();
    expect(await published('remediations', 'remediation.planned', incidentId)).toHaveLength(0);
    expect(await published('remediations', 'remediation.escalated', incidentId)).toHaveLength(0);
    // A resolved deferral takes no capacity: the next incident on the service is planned.
    const next = await open('healed', ['api-1']);
    expect(next.planned).toHaveLength(1);
  });
});
