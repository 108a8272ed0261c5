import type { INestApplication } from '@nestjs/common';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Client } from 'pg';
import {
  agentCommandRequest,
  newEvent,
  newEventId,
  STREAMS,
  type AgentCommandRequest,
  type AgentEffect,
  type Envelope,
  type EventType,
} from '@autoheal/contracts';
import type { MetricValueWithName } from 'prom-client';
import { closeNats, connectNats } from '@autoheal/messaging';
import { metricsRegistry } from '@autoheal/telemetry';
import { signReply } from '@autoheal/security';
import { createTestDatabase, expectEventually, publishSigned, startNatsServer, type NatsServerHandle, type TestDatabase, createTestKeys } from '@autoheal/testing';
import { loadConfig } from '../config.js';
import { REMEDIATIONS_DURABLE } from '../executor.consumers.js';
import { createExecutorApp } from '../executor.app.js';

// Signing keys for the services under test (AUTOHEAL_SIGNING_KEY_FILE, AUTOHEAL_TRUST_FILE).
const keys = createTestKeys();
afterAll(() => keys.remove());

const MAX_DELIVER = 4;

/** How many executions the plan → executed histogram counted with these labels. */
async function planToExecutedCount(labels: Record<string, string>): Promise<number> {
  const values = ((await metricsRegistry.getSingleMetric('autoheal_executor_plan_to_executed_seconds')?.get())?.values ?? []) as MetricValueWithName<string>[];
  return values
    .filter((v) => v.metricName === 'autoheal_executor_plan_to_executed_seconds_count' && Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((total, v) => total + v.value, 0);
}

/** What the agent did for a remediation, before it signs it into a reply for one command. */
type Outcome =
  | { ok: true; remediationId: string; action: 'restart'; effects: AgentEffect[]; completedAt: string; replayed: boolean }
  | { ok: false; remediationId: string; code: 'unknown_instance'; message: string };

/**
 * A stand-in for the demo fleet's agent: a real NATS responder that keeps the contract the
 * executor relies on — one action per remediation id, the first outcome replayed after that.
 */
class FakeAgent {
  readonly requests: AgentCommandRequest[] = [];
  private readonly outcomes = new Map<string, Outcome>();
  private sub: Subscription | undefined;
  private nextPid = 1000;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subject: string,
    private readonly decide: (req: AgentCommandRequest) => 'restart' | 'unknown_instance' = () => 'restart',
  ) {}

  async start(): Promise<this> {
    this.sub = this.nc.subscribe(this.subject, {
      callback: (_err, msg) => {
        const req = agentCommandRequest.parse(msg.json());
        this.requests.push(req);
        // Signed as the real agent signs: with the key the executor has registered for every target.
        const signed = signReply(keys.key('agent:demo-fleet'), { ...this.answer(req), commandId: req.commandId, agentId: 'demo-fleet', signedAt: new Date().toISOString() });
        msg.respond(JSON.stringify(signed));
      },
    });
    await this.nc.flush();
    return this;
  }

  /** As if the agent had restarted this remediation before (e.g. before the executor crashed). */
  remember(reply: Outcome): void {
    this.outcomes.set(reply.remediationId, reply);
  }

  requestsFor(remediationId: string): AgentCommandRequest[] {
    return this.requests.filter((r) => r.remediationId === remediationId);
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  private answer(req: AgentCommandRequest): Outcome {
    const first = this.outcomes.get(req.remediationId);
    if (first) return first.ok ? { ...first, replayed: true } : first;
    const reply: Outcome =
      this.decide(req) === 'restart'
        ? {
            ok: true,
            remediationId: req.remediationId,
            action: 'restart',
            effects: [{ verb: 'restarted', object: req.instance, detail: { pid: this.nextPid++ } }],
            completedAt: new Date().toISOString(),
            replayed: false,
          }
        : { ok: false, remediationId: req.remediationId, code: 'unknown_instance', message: `no instance ${req.instance}` };
    this.outcomes.set(req.remediationId, reply);
    return reply;
  }
}

function planned(tenantId: string, instance: string): Envelope<'remediation.planned'> {
  const incidentId = newEventId();
  return newEvent('remediation.planned', {
    tenantId,
    producer: 'decision',
    correlationId: incidentId,
    causationId: newEventId(),
    data: {
      remediationId: newEventId(),
      incidentId,
      service: 'api',
      instance,
      action: 'restart',
      policyVersion: 'sha256:0123456789abcdef',
      reason: 'test',
      candidates: [{ action: 'restart', allowed: true, reason: 'test' }],
    },
  });
}

describe('executor (real Postgres, nats-server and a responder in the agent’s place)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let pg: Client;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let app: INestApplication;
  let agent: FakeAgent;

  async function publishRaw(event: Envelope): Promise<number> {
    return publishSigned(nc, keys, event);
  }

  async function published<T extends EventType>(type: T, remediationId: string): Promise<Envelope<T>[]> {
    const name = STREAMS.remediations.name;
    const info = await jsm.streams.info(name);
    const out: Envelope<T>[] = [];
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
      const stored = await jsm.streams.getMessage(name, { seq });
      if (!stored) continue;
      const event = stored.json<Envelope>();
      if (event.type === type && (event.data as { remediationId?: string }).remediationId === remediationId) out.push(event as Envelope<T>);
    }
    return out;
  }

  async function settled(seq: number): Promise<void> {
    await expectEventually(async () => {
      const info = await jsm.consumers.info(STREAMS.remediations.name, REMEDIATIONS_DURABLE);
      expect(info.ack_floor.stream_seq).toBeGreaterThanOrEqual(seq);
      expect(info.num_ack_pending).toBe(0);
      const [{ n }] = (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM executor.outbox WHERE published_at IS NULL`)).rows;
      expect(n).toBe(0);
    }, { timeoutMs: 15_000 });
  }

  async function execution(remediationId: string) {
    const { rows } = await pg.query(`SELECT status, attempts, driver, result, finished_at FROM executor.executions WHERE remediation_id = $1`, [remediationId]);
    return rows[0] as { status: string; attempts: number; driver: string; result: Record<string, unknown> | null; finished_at: Date | null } | undefined;
  }

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    const config = loadConfig({ DATABASE_URL: db.roleUrl('executor'), ...keys.env('executor'), NATS_URL: nats.url, EXECUTOR_PORT: '0', AGENT_TIMEOUT_MS: '2000', EXECUTOR_MAX_DELIVER: String(MAX_DELIVER), EXECUTOR_TARGET_AGENTS: '*=demo-fleet' });
    app = await createExecutorApp(config);
    await app.init();
    await app.startAllMicroservices();
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    nc = await connectNats({ servers: nats.url, name: 'executor-test', onClosedForGood: () => undefined });
    jsm = await jetstreamManager(nc);
    agent = await new FakeAgent(nc, 'agent.command.acme.>', (req) => (req.instance === 'ghost' ? 'unknown_instance' : 'restart')).start();
  });

  afterAll(async () => {
    agent?.stop();
    await app?.close();
    await pg?.end();
    if (nc) await closeNats(nc);
    await nats?.stop();
    await db?.drop();
  });

  it('restarts a planned remediation once and publishes started then succeeded', async () => {
    const timedBefore = await planToExecutedCount({ action: 'restart', status: 'succeeded' });
    const plan = planned('acme', 'api-1');
    const { remediationId, incidentId } = plan.data;
    await settled(await publishRaw(plan));

    expect(agent.requestsFor(remediationId)).toMatchObject([{ remediationId, tenantId: 'acme', service: 'api', instance: 'api-1', action: 'restart', keyId: keys.key('executor').keyId }]);
    const started = await published('remediation.started', remediationId);
    const succeeded = await published('remediation.succeeded', remediationId);
    expect(started).toHaveLength(1);
    expect(succeeded).toHaveLength(1);
    expect(started[0]).toMatchObject({ producer: 'executor', correlationId: incidentId, causationId: plan.id, data: { executor: 'nats-agent', instance: 'api-1' } });
    expect(succeeded[0]).toMatchObject({ correlationId: incidentId, causationId: plan.id, data: { details: { action: 'restart', effects: [{ verb: 'restarted', object: plan.data.instance, detail: { pid: expect.any(Number) as number } }], replayed: false } } });
    expect(started[0].id < succeeded[0].id).toBe(true);
    expect(await execution(remediationId)).toMatchObject({ status: 'succeeded', attempts: 1, driver: 'nats-agent', finished_at: expect.any(Date) as Date });
    // The pipeline's plan → executed stage, timed from the plan event.
    expect((await planToExecutedCount({ action: 'restart', status: 'succeeded' })) - timedBefore).toBe(1);
  });

  it('asks the agent once when the same planned event is delivered twice', async () => {
    const plan = planned('acme', 'api-2');
    const { remediationId } = plan.data;
    await publishRaw(plan);
    await settled(await publishRaw(plan));

    expect(agent.requestsFor(remediationId)).toHaveLength(1);
    expect(await published('remediation.started', remediationId)).toHaveLength(1);
    expect(await published('remediation.succeeded', remediationId)).toHaveLength(1);
    expect(await execution(remediationId)).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('after a crash between claiming and finishing, asks the agent again with the same remediation id and completes', async () => {
    const plan = planned('acme', 'api-3');
    const { remediationId, incidentId } = plan.data;
    // State a crash leaves behind: the execution claimed (started published then), the agent
    // already restarted the instance, the outcome never recorded.
    const completedAt = new Date(Date.now() - 5_000).toISOString();
    const effects: AgentEffect[] = [{ verb: 'restarted', object: 'api-3', detail: { pid: 777 } }];
    await pg.query(
      `INSERT INTO executor.executions (remediation_id, incident_id, tenant_id, service, instance, action, driver, status, attempts, started_at)
       VALUES ($1, $2, 'acme', 'api', 'api-3', 'restart', 'nats-agent', 'started', 1, now() - interval '6 seconds')`,
      [remediationId, incidentId],
    );
    agent.remember({ ok: true, remediationId, action: 'restart', effects, completedAt, replayed: false });

    await settled(await publishRaw(plan));

    expect(agent.requestsFor(remediationId)).toMatchObject([{ remediationId, tenantId: 'acme', service: 'api', instance: 'api-3' }]);
    const succeeded = await published('remediation.succeeded', remediationId);
    expect(succeeded).toHaveLength(1);
    // Who vouched for it: the agent and the key that signed the reply.
    expect(succeeded[0].data.details).toEqual({ action: 'restart', effects, completedAt, replayed: true, agentId: 'demo-fleet', keyId: keys.key('agent:demo-fleet').keyId });
    expect(succeeded[0].data.durationMs).toBeGreaterThanOrEqual(6_000);
    // It was claimed before the crash; claiming again must not announce a second start.
    expect(await published('remediation.started', remediationId)).toHaveLength(0);
    expect(await execution(remediationId)).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('reports the agent’s refusal as a failed remediation', async () => {
    const timedBefore = await planToExecutedCount({ action: 'restart', status: 'failed' });
    const plan = planned('acme', 'ghost');
    const { remediationId } = plan.data;
    await settled(await publishRaw(plan));

    const failed = await published('remediation.failed', remediationId);
    expect(failed).toHaveLength(1);
    expect(failed[0].data.error).toEqual({ code: 'unknown_target', message: 'no instance ghost' });
    expect(await published('remediation.succeeded', remediationId)).toHaveLength(0);
    expect(await execution(remediationId)).toMatchObject({ status: 'failed', attempts: 1, result: { error: { code: 'unknown_target' } } });
    expect((await planToExecutedCount({ action: 'restart', status: 'failed' })) - timedBefore).toBe(1);
  });

  it('retries while no agent answers and completes once one does', async () => {
    const plan = planned('late', 'api-1');
    const { remediationId } = plan.data;
    await publishRaw(plan);
    await expectEventually(async () => expect((await execution(remediationId))?.attempts).toBeGreaterThanOrEqual(2));
    expect((await execution(remediationId))?.status).toBe('started');

    const lateAgent = await new FakeAgent(nc, 'agent.command.late.>').start();
    try {
      await expectEventually(async () => expect(await published('remediation.succeeded', remediationId)).toHaveLength(1), { timeoutMs: 15_000 });
      expect(lateAgent.requestsFor(remediationId)).toHaveLength(1);
      expect(await published('remediation.started', remediationId)).toHaveLength(1);
      const row = await execution(remediationId);
      expect(row?.status).toBe('succeeded');
      // Two unanswered tries at least, then the one that reached the agent.
      expect(row?.attempts).toBeGreaterThanOrEqual(3);
    } finally {
      lateAgent.stop();
    }
  });

  it('reports failure on the last delivery when no agent ever answers, instead of leaving it started', async () => {
    const plan = planned('offline', 'api-1');
    const { remediationId } = plan.data;
    await publishRaw(plan);

    await expectEventually(async () => expect(await published('remediation.failed', remediationId)).toHaveLength(1), { timeoutMs: 20_000 });
    const [failed] = await published('remediation.failed', remediationId);
    expect(failed.data.error.code).toBe('driver_unreachable');
    expect(failed.data.error.message).toMatch(new RegExp(`no answer after ${MAX_DELIVER} attempts`));
    expect(await execution(remediationId)).toMatchObject({ status: 'failed', attempts: MAX_DELIVER });
  });

  it('acknowledges a dry-run plan without executing it', async () => {
    const plan = planned('acme', 'api-1');
    const dryRun = { ...plan, data: { ...plan.data, dryRun: true } };
    await settled(await publishRaw(dryRun));
    expect(agent.requestsFor(plan.data.remediationId)).toHaveLength(0);
    expect(await published('remediation.started', plan.data.remediationId)).toHaveLength(0);
    expect(await execution(plan.data.remediationId)).toBeUndefined();
  });

  it('acknowledges remediation events it does not act on', async () => {
    const plan = planned('acme', 'api-1');
    const escalated = newEvent('remediation.escalated', {
      tenantId: 'acme',
      producer: 'decision',
      data: { incidentId: plan.data.incidentId, service: 'api', instance: 'api-1', policyVersion: 'none', reason: 'test', candidates: [] },
    });
    await settled(await publishRaw(escalated));
    const { rows } = await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM executor.executions WHERE incident_id = $1`, [plan.data.incidentId]);
    expect(rows[0].n).toBe(0);
  });
});
