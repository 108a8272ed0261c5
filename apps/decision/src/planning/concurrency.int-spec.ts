import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import { newEvent, newEventId, STREAMS, type Envelope, type EventType, type StreamKey } from '@autoheal/contracts';
import { closeNats, connectNats, EventPublisher } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, readStream, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { loadConfig } from '../config.js';
import { createDecisionApp } from '../decision.app.js';
import { INCIDENTS_CONSUMER } from '../decision.consumers.js';
import { PlanningService, type PlanningOutcome } from './planning.service.js';
import { tenantDocumentSchema, type Framework, type ProfileThresholds, type TenantDocument } from './policy-port.js';
import { IN_FLIGHT_STATUSES } from './remediations.repository.js';

/*
 * Two decision services deciding the same tenant's incidents at once. Each app has its own
 * TypeORM DataSource (its own Postgres pool) and its own NATS connection, and both consume the
 * same durable consumer as competing consumers: to Postgres and JetStream they are two
 * processes, and each also decides up to INCIDENTS_CONSUMER.concurrency incidents at once. They
 * share this one Node process (and its metrics registry); the caps are counted under a Postgres
 * advisory lock, so nothing they share in memory takes part in what is under test.
 * Without that lock (lockTenant made a no-op) this suite sees 13–16 plans instead of 7 and 6.
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
}

const CASES: Case[] = [
  // SOC 2 allows 10 automatic actions an hour; 7 % of 100 instances at once binds first.
  { name: 'the concurrency cap binds', tenantId: 'crowded', frameworks: ['SOC2'], overrides: { maxConcurrentShare: 0.07 }, concurrencyCap: 7, hourlyCap: 10, binding: 'service_concurrency' },
  // No framework: half the instances at once (50); 6 automatic actions an hour binds first.
  { name: 'the hourly cap binds', tenantId: 'hurried', frameworks: [], overrides: { maxAutoActionsPerHour: 6 }, concurrencyCap: 50, hourlyCap: 6, binding: 'max_auto_actions_per_hour' },
];

function tenantDoc(c: Case): TenantDocument {
  return tenantDocumentSchema.parse({
    apiVersion: 'autoheal/v1',
    tenantId: c.tenantId,
    frameworks: c.frameworks,
    overrides: c.overrides,
    playbooks: RESTART_ONLY,
    inventory: {
      services: [
        {
          service: 'api',
          instances: Array.from({ length: INSTANCES }, (_, i) => ({ instance: `api-${i + 1}`, region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' })),
        },
      ],
    },
  });
}

function incidentOpened(tenantId: string, instance: string): Envelope<'incident.opened'> {
  const incidentId = newEventId();
  const at = new Date().toISOString();
  return newEvent('incident.opened', {
    tenantId,
    producer: 'detector',
    correlationId: incidentId,
    data: { incidentId, service: 'api', instance, kind: 'heartbeat_missed', severity: 'major', signalAt: at, detectedAt: at, detectionLatencyMs: 3, evidence: {} },
  });
}

interface Decided {
  app: string;
  tenantId: string;
  incidentId: string;
  outcome: PlanningOutcome;
}

describe('two decision services deciding one tenant at once (real Postgres and nats-server)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let pg: Client;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let dir: string;
  const apps: INestApplication[] = [];
  /** What each app's PlanningService decided, as it returned it. */
  const decided: Decided[] = [];

  async function published<T extends EventType>(stream: StreamKey, type: T): Promise<Envelope<T>[]> {
    return (await readStream<Envelope>(nc, STREAMS[stream].name)).filter((e) => e.type === type) as unknown as Envelope<T>[];
  }

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    dir = mkdtempSync(join(tmpdir(), 'decision-concurrency-test-'));
    const documentsFile = join(dir, 'tenants.json');
    writeFileSync(documentsFile, JSON.stringify(CASES.map(tenantDoc)));
    const config = loadConfig({
      DATABASE_URL: db.url,
      NATS_URL: nats.url,
      DECISION_TENANTS_DIR: documentsFile,
      // 100 failing instances of 200 would trip the fleet breaker at its defaults; only the caps are under test.
      DECISION_BREAKER_FLEET_SHARE: '1',
      DECISION_BREAKER_MIN_INSTANCES: '1000',
      DECISION_DELIVERY_INTERVAL_MS: '0',
      DECISION_COMPLIANCE_INTERVAL_MS: '0',
      DECISION_SWEEP_INTERVAL_MS: '0',
    });
    // One after the other, as a rolling deploy would start them; both are up before anything is published.
    for (const name of ['decision-a', 'decision-b']) {
      const app = await createDecisionApp(config, { nestLogs: false });
      const planning = app.get(PlanningService);
      const decide = planning.onIncidentOpened.bind(planning);
      // Notes which app took each decision; the decision itself is untouched.
      planning.onIncidentOpened = async (event) => {
        const outcome = await decide(event);
        decided.push({ app: name, tenantId: event.tenantId, incidentId: event.data.incidentId, outcome });
        return outcome;
      };
      await app.init();
      await app.startAllMicroservices();
      apps.push(app);
    }
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    nc = await connectNats({ servers: nats.url, name: 'decision-concurrency-test', onClosedForGood: () => undefined });
    jsm = await jetstreamManager(nc);
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await pg?.end();
    if (nc) await closeNats(nc);
    await nats?.stop();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(CASES)('$name: 100 simultaneous incidents yield exactly min(caps) plans across both services', async (c) => {
    const expectedPlans = Math.min(c.concurrencyCap, c.hourlyCap);
    const incidents = Array.from({ length: INSTANCES }, (_, i) => incidentOpened(c.tenantId, `api-${i + 1}`));
    const ids = incidents.map((i) => i.data.incidentId);
    const publisher = new EventPublisher(nc);
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

    // The database: one decision per incident; exactly min(caps) planned; every other refused by the binding cap.
    const { rows } = await pg.query<{ incident_id: string; remediation_id: string; status: string; refusal_rule: string | null; planned_at: Date | null }>(
      `SELECT incident_id, remediation_id, status, refusal_rule, planned_at FROM decision.remediations WHERE tenant_id = $1`,
      [c.tenantId],
    );
    expect(rows.map((r) => r.incident_id).sort()).toEqual([...ids].sort());
    const planned = rows.filter((r) => r.status === 'planned');
    expect(planned).toHaveLength(expectedPlans);
    for (const r of planned) expect(r.planned_at).toBeInstanceOf(Date);
    const refused = rows.filter((r) => r.status !== 'planned');
    expect(refused.map((r) => [r.status, r.refusal_rule])).toEqual(refused.map(() => ['escalated', c.binding]));

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
    const refusals = mine(await published('compliance', 'compliance.action_refused'));
    expect(plans).toHaveLength(expectedPlans);
    expect(new Set(plans.map((p) => p.data.incidentId)).size).toBe(expectedPlans);
    expect(plans.map((p) => p.data.remediationId).sort()).toEqual(planned.map((r) => r.remediation_id).sort());
    expect([...plans, ...escalations].map((e) => e.data.incidentId).sort()).toEqual([...ids].sort());
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
});
