import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import { newEvent, newEventId, STREAMS, subjectFor, type Envelope, type EventType, type StreamKey } from '@autoheal/contracts';
import { closeNats, connectNats, EventPublisher } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { loadConfig } from './config.js';
import { createDecisionApp } from './decision.app.js';
import { INCIDENTS_CONSUMER, OUTCOMES_CONSUMER } from './decision.consumers.js';
import { PlanningService } from './planning/planning.service.js';
import { policyVersionOf } from './tenants/policy-version.js';
import type { TenantProfile } from './tenants/tenant-profile.js';
import { TenantsError } from './tenants/tenants.errors.js';

const tenant = (tenantId: string, overrides: Partial<TenantProfile> = {}): TenantProfile => ({
  tenantId,
  frameworks: ['HIPAA', 'SOC2'],
  maxAutoActionsPerHour: 100,
  autoActions: ['restart'],
  services: [{ service: 'api', instances: ['api-1', 'api-2', 'api-3'] }],
  ...overrides,
});

const TENANTS = [
  tenant('acme'),
  tenant('capped', { maxAutoActionsPerHour: 2 }),
  tenant('strict', { frameworks: ['PCI DSS'], autoActions: [] }),
  tenant('burst', { maxAutoActionsPerHour: 3 }),
];

function incidentOpened(tenantId: string, instance: string, incidentId: string = newEventId()): Envelope<'incident.opened'> {
  const at = new Date().toISOString();
  return newEvent('incident.opened', {
    tenantId,
    producer: 'detector',
    correlationId: incidentId,
    data: { incidentId, service: 'api', instance, kind: 'heartbeat_missed', severity: 'major', signalAt: at, detectedAt: at, detectionLatencyMs: 3, evidence: {} },
  });
}

describe('decision service (real Postgres and nats-server)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let pg: Client;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let app: INestApplication;
  let dir: string;

  /** Publishes as a JetStream client that retries without a message id would: every call is stored. */
  async function publishRaw(event: Envelope): Promise<number> {
    const ack = await jetstream(nc).publish(subjectFor(event), JSON.stringify(event));
    return ack.seq;
  }

  async function published<T extends EventType>(stream: StreamKey, type: T): Promise<Envelope<T>[]> {
    const name = STREAMS[stream].name;
    const info = await jsm.streams.info(name);
    const out: Envelope<T>[] = [];
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
      const stored = await jsm.streams.getMessage(name, { seq });
      if (!stored) continue;
      const event = stored.json<Envelope>();
      if (event.type === type) out.push(event as Envelope<T>);
    }
    return out;
  }

  /** Every message up to `seq` was handled and acknowledged, and what it caused has left the outbox. */
  async function settled(stream: StreamKey, durable: string, seq: number): Promise<void> {
    await expectEventually(async () => {
      const info = await jsm.consumers.info(STREAMS[stream].name, durable);
      expect(info.ack_floor.stream_seq).toBeGreaterThanOrEqual(seq);
      expect(info.num_ack_pending).toBe(0);
      const [{ n }] = (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM decision.outbox WHERE published_at IS NULL`)).rows;
      expect(n).toBe(0);
    }, { timeoutMs: 15_000 });
  }

  const forIncident = <T extends { data: { incidentId: string } }>(events: T[], incidentId: string) => events.filter((e) => e.data.incidentId === incidentId);

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    dir = mkdtempSync(join(tmpdir(), 'decision-test-'));
    const tenantsFile = join(dir, 'fleet.json');
    writeFileSync(tenantsFile, JSON.stringify({ tenants: TENANTS }));
    const config = loadConfig({ DATABASE_URL: db.url, NATS_URL: nats.url, DECISION_PORT: '0', DECISION_TENANTS_FILE: tenantsFile });
    app = await createDecisionApp(config);
    await app.init();
    await app.startAllMicroservices();
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    nc = await connectNats({ servers: nats.url, name: 'decision-test', onClosedForGood: () => undefined });
    jsm = await jetstreamManager(nc);
  });

  afterAll(async () => {
    await app?.close();
    await pg?.end();
    if (nc) await closeNats(nc);
    await nats?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores every tenant profile with its policy version', async () => {
    const { rows } = await pg.query(`SELECT tenant_id, profile, policy_version FROM decision.tenants ORDER BY tenant_id`);
    expect(rows).toEqual(
      [...TENANTS].sort((a, b) => a.tenantId.localeCompare(b.tenantId)).map((t) => ({ tenant_id: t.tenantId, profile: t, policy_version: policyVersionOf(t) })),
    );
  });

  it('plans one restart for an opened incident, in the incident’s correlation', async () => {
    const incident = incidentOpened('acme', 'api-1');
    const seq = await publishRaw(incident);
    await settled('incidents', INCIDENTS_CONSUMER.durable, seq);

    const plans = forIncident(await published('remediations', 'remediation.planned'), incident.data.incidentId);
    expect(plans).toHaveLength(1);
    expect(plans[0]).toMatchObject({
      tenantId: 'acme',
      producer: 'decision',
      correlationId: incident.data.incidentId,
      causationId: incident.id,
      data: { incidentId: incident.data.incidentId, service: 'api', instance: 'api-1', action: 'restart', policyVersion: policyVersionOf(TENANTS[0]) },
    });
    const { rows } = await pg.query(`SELECT remediation_id, status, planned_at FROM decision.remediations WHERE incident_id = $1`, [incident.data.incidentId]);
    expect(rows).toEqual([{ remediation_id: plans[0].data.remediationId, status: 'planned', planned_at: expect.any(Date) as Date }]);
  });

  it('plans once when the same event is delivered twice', async () => {
    const incident = incidentOpened('acme', 'api-2');
    await publishRaw(incident);
    const seq = await publishRaw(incident);
    await settled('incidents', INCIDENTS_CONSUMER.durable, seq);

    expect(forIncident(await published('remediations', 'remediation.planned'), incident.data.incidentId)).toHaveLength(1);
    const { rows } = await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM decision.inbox WHERE consumer = $1 AND event_id = $2`, [INCIDENTS_CONSUMER.durable, incident.id]);
    expect(rows[0].n).toBe(1);
  });

  it('plans once when a second, different incident.opened names the same incident', async () => {
    const first = incidentOpened('acme', 'api-3');
    const second = incidentOpened('acme', 'api-3', first.data.incidentId);
    expect(second.id).not.toBe(first.id);
    await publishRaw(first);
    const seq = await publishRaw(second);
    await settled('incidents', INCIDENTS_CONSUMER.durable, seq);

    const plans = forIncident(await published('remediations', 'remediation.planned'), first.data.incidentId);
    expect(plans).toHaveLength(1);
    expect(plans[0].causationId).toBe(first.id);
    expect(forIncident(await published('remediations', 'remediation.escalated'), first.data.incidentId)).toHaveLength(0);
  });

  it('plans up to the hourly cap, then escalates and says which rule refused', async () => {
    const incidents = ['api-1', 'api-2', 'api-3'].map((instance) => incidentOpened('capped', instance));
    let seq = 0;
    for (const incident of incidents) seq = await publishRaw(incident);
    await settled('incidents', INCIDENTS_CONSUMER.durable, seq);

    const ids = incidents.map((i) => i.data.incidentId);
    const plans = (await published('remediations', 'remediation.planned')).filter((e) => ids.includes(e.data.incidentId));
    const escalations = (await published('remediations', 'remediation.escalated')).filter((e) => ids.includes(e.data.incidentId));
    const refusals = (await published('compliance', 'compliance.action_refused')).filter((e) => ids.includes(e.data.incidentId));
    expect(plans.map((e) => e.data.incidentId)).toEqual(ids.slice(0, 2));
    expect(escalations.map((e) => e.data.incidentId)).toEqual([ids[2]]);
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({
      tenantId: 'capped',
      correlationId: ids[2],
      causationId: incidents[2].id,
      data: { rule: 'max_auto_actions_per_hour', action: 'restart', instance: 'api-3', policyVersion: policyVersionOf(TENANTS[1]) },
    });
    expect(escalations[0].data.remediationId).toEqual(expect.any(String));
    const { rows } = await pg.query(`SELECT status, refusal_rule FROM decision.remediations WHERE incident_id = $1`, [ids[2]]);
    expect(rows).toEqual([{ status: 'escalated', refusal_rule: 'max_auto_actions_per_hour' }]);
  });

  it('refuses an action the profile does not allow automatically', async () => {
    const incident = incidentOpened('strict', 'api-1');
    const seq = await publishRaw(incident);
    await settled('incidents', INCIDENTS_CONSUMER.durable, seq);

    expect(forIncident(await published('remediations', 'remediation.planned'), incident.data.incidentId)).toHaveLength(0);
    const [refusal] = forIncident(await published('compliance', 'compliance.action_refused'), incident.data.incidentId);
    expect(refusal.data).toMatchObject({ rule: 'action_not_allowed', action: 'restart' });
    expect(refusal.data.reason).toContain('PCI DSS');
    expect(forIncident(await published('remediations', 'remediation.escalated'), incident.data.incidentId)).toHaveLength(1);
  });

  it('escalates an unknown tenant’s incident without inventing a compliance rule', async () => {
    const incident = incidentOpened('nobody', 'api-1');
    const seq = await publishRaw(incident);
    await settled('incidents', INCIDENTS_CONSUMER.durable, seq);

    const [escalation] = forIncident(await published('remediations', 'remediation.escalated'), incident.data.incidentId);
    expect(escalation.data).toMatchObject({ policyVersion: 'none', candidates: [{ action: 'restart', allowed: false }] });
    expect(forIncident(await published('compliance', 'compliance.action_refused'), incident.data.incidentId)).toHaveLength(0);
    expect(forIncident(await published('remediations', 'remediation.planned'), incident.data.incidentId)).toHaveLength(0);
  });

  it('holds the cap when many incidents of one tenant are decided at once', async () => {
    const planning = app.get(PlanningService);
    const incidents = Array.from({ length: 12 }, (_, i) => incidentOpened('burst', `i-${i}`));
    const outcomes = await Promise.all(incidents.map((i) => planning.onIncidentOpened(i)));
    expect(outcomes.filter((o) => o.kind === 'planned')).toHaveLength(3);
    expect(outcomes.filter((o) => o.kind === 'escalated')).toHaveLength(9);
    const { rows } = await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM decision.remediations WHERE tenant_id = 'burst' AND planned_at IS NOT NULL`);
    expect(rows[0].n).toBe(3);
  });

  it('records outcomes and escalates a failed remediation', async () => {
    const ok = incidentOpened('acme', 'api-1');
    const bad = incidentOpened('acme', 'api-2');
    await publishRaw(ok);
    await settled('incidents', INCIDENTS_CONSUMER.durable, await publishRaw(bad));
    const plans = await published('remediations', 'remediation.planned');
    const [okPlan] = forIncident(plans, ok.data.incidentId);
    const [badPlan] = forIncident(plans, bad.data.incidentId);

    const outcome = <T extends 'remediation.succeeded' | 'remediation.failed'>(type: T, plan: Envelope<'remediation.planned'>, data: object) =>
      newEvent(type, {
        tenantId: 'acme',
        producer: 'executor',
        correlationId: plan.data.incidentId,
        causationId: plan.id,
        data: { remediationId: plan.data.remediationId, incidentId: plan.data.incidentId, service: 'api', instance: plan.data.instance, action: 'restart', durationMs: 40, ...data } as never,
      });
    const succeeded = outcome('remediation.succeeded', okPlan, { details: { pid: 4242 } });
    const failed = outcome('remediation.failed', badPlan, { error: { code: 'spawn_failed', message: 'exec format error' } });
    const publisher = new EventPublisher(nc);
    await publisher.publish(succeeded);
    const { seq } = await publisher.publish(failed);
    // The same failure again, stored twice: it must escalate once.
    await publishRaw(failed);
    await settled('remediations', OUTCOMES_CONSUMER.durable, seq + 1);

    const { rows } = await pg.query(`SELECT incident_id, status, outcome_error FROM decision.remediations WHERE incident_id = ANY($1) ORDER BY status DESC`, [
      [ok.data.incidentId, bad.data.incidentId],
    ]);
    expect(rows).toEqual([
      { incident_id: ok.data.incidentId, status: 'succeeded', outcome_error: null },
      { incident_id: bad.data.incidentId, status: 'failed', outcome_error: { code: 'spawn_failed', message: 'exec format error' } },
    ]);
    const escalations = forIncident(await published('remediations', 'remediation.escalated'), bad.data.incidentId);
    expect(escalations).toHaveLength(1);
    expect(escalations[0]).toMatchObject({ causationId: failed.id, correlationId: bad.data.incidentId, data: { remediationId: badPlan.data.remediationId } });
    expect(escalations[0].data.reason).toMatch(/spawn_failed/);
    expect(forIncident(await published('remediations', 'remediation.escalated'), ok.data.incidentId)).toHaveLength(0);
  });

  it('refuses to boot on an invalid tenants file, listing every problem', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ tenants: [{ ...tenant('ok'), maxAutoActionsPerHour: 'many' }, { ...tenant('x.y'), autoActions: null }] }));
    const config = loadConfig({ DATABASE_URL: db.url, NATS_URL: nats.url, DECISION_TENANTS_FILE: file });
    const boot = createDecisionApp(config);
    await expect(boot).rejects.toThrow(TenantsError);
    await expect(boot).rejects.toThrow(/tenants\.0\.maxAutoActionsPerHour[\s\S]*tenants\.1\.tenantId[\s\S]*tenants\.1\.autoActions/);
  });
});
