/**
 * The whole pipeline as processes, the way `npm start` runs it: real nats-server, real
 * Postgres, the four services and the demo fleet agent with real API server processes.
 */
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Client } from 'pg';
import type { DeadLetterRecord, Envelope } from '@autoheal/contracts';
import { closeNats, connectNats, natsDevServerSetup, systemIdentities, type SecureNatsMaterial } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, freePort, readStream, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';

import { startSystem, type RunningSystem } from '../tools/dev/system.js';

type System = RunningSystem;
type ServiceName = 'detector' | 'decision' | 'executor' | 'auditor';

const OPS_KEY = 'ops_e2e_key_0123456789';
const TENANT_B_KEY = 'tnt_e2e_b_key_0123456789';
const FLOW: Envelope['type'][] = ['incident.opened', 'remediation.planned', 'remediation.started', 'remediation.succeeded', 'incident.resolved'];

interface AuditRow {
  eventType: string;
  traceId: string;
}

interface AuditPage {
  items: AuditRow[];
}

interface AgentInstance {
  tenantId: string;
  service: string;
  instance: string;
  pid?: number;
  state: string;
  restarts: number;
}

describe('autoheal end to end', () => {
  let nats: NatsServerHandle<SecureNatsMaterial>;
  let db: TestDatabase;
  let nc: NatsConnection;
  let system: System;
  let stateDir: string;
  let traceFile: string;
  let auditorUrl: string;

  beforeAll(async () => {
    const fleet = {
      tenants: [
        {
          tenantId: 'e2e-a',
          displayName: 'E2E A',
          frameworks: ['HIPAA'],
          maxAutoActionsPerHour: 50,
          autoActions: ['restart'],
          services: [{ service: 'api', instances: ['a-1', 'a-2', 'a-3', 'a-4', 'a-5'] }],
        },
        { tenantId: 'e2e-b', displayName: 'E2E B', frameworks: ['GDPR'], maxAutoActionsPerHour: 50, autoActions: ['restart'], services: [{ service: 'api', instances: ['b-1'] }] },
      ],
    };
    // TLS and NKey authentication on, every process with its own identity, as npm start runs it.
    nats = await startNatsServer(natsDevServerSetup(systemIdentities(fleet)));
    db = await createTestDatabase();
    stateDir = mkdtempSync(join(tmpdir(), 'autoheal-e2e-'));
    traceFile = join(stateDir, 'spans.jsonl');
    const fleetFile = join(stateDir, 'fleet.json');
    writeFileSync(fleetFile, JSON.stringify(fleet));
    const ports = { auditor: await freePort(), detector: await freePort(), decision: await freePort(), executor: await freePort() };
    auditorUrl = `http://127.0.0.1:${ports.auditor}`;
    system = await startSystem({
      natsUrl: nats.url,
      natsCredentials: { caFile: nats.secure.caFile, seedDir: join(nats.secure.dir, 'seeds') },
      databaseUrl: db.url,
      stateDir,
      fleetFile,
      ports,
      restartOnExit: false,
      env: {
        HEARTBEAT_MS: '200',
        // Free ports picked by the OS for each instance: a free base port says nothing about the
        // five above it, and one run saw b-1's port taken by another suite's connection.
        FLEET_BASE_PORT: '0',
        // Ten 200 ms intervals: a loaded CI machine may delay a heartbeat past 600 ms, and a
        // false hang here would restart an instance that a later case expects to restart once.
        // With five, one run in four on 2 cores saw every instance's heartbeats stall past 1 s
        // at once (the detector's own timer was only 150 ms late) while other suites spawned
        // processes beside it.
        DETECTOR_MISSED_INTERVALS: '10',
        // Six instances: two failing at once would be a third of the fleet. The breaker has its
        // own tests; here it would only turn a slow machine into escalations.
        DECISION_BREAKER_MIN_INSTANCES: '1000',
        // Two whole systems may run at once against one Postgres (100 connections by default).
        DATABASE_POOL_MAX: '4',
        // A hang whose deadline timer fired 2 s late is marked as a possible detector fault and
        // escalated, not restarted; a loaded 2-core CI machine can stall the detector that long.
        // Observer faults have their own tests (detection.int-spec).
        DETECTOR_OBSERVER_LATE_MS: '30000',
        DETECTOR_SNAPSHOT_INTERVAL_MS: '200',
        AUDITOR_OPS_API_KEY: OPS_KEY,
        AUDITOR_TENANT_API_KEYS: `e2e-b=${TENANT_B_KEY}`,
        // The tests poll the audit API until a row appears: read limits are not what they measure.
        AUDITOR_READ_RATE_PER_MINUTE: '100000',
        AUDITOR_READ_BURST: '100000',
        AUTOHEAL_TRACE_FILE: traceFile,
        LOG_LEVEL: 'info',
      },
    });
    await system.waitHealthy(60_000);
    // The read-only operator identity: reads the streams, drives the demo agent, publishes nothing.
    nc = await connectNats({ servers: nats.url, ...nats.secure.credentials('ops'), name: 'e2e-observer', onClosedForGood: () => undefined });
    // Every instance is up and heartbeating before we break any.
    // Compared as a whole so that a failure shows which instance is down and how it ended.
    await expectEventually(async () => {
      const status = await agentStatus();
      expect(status.filter((i) => i.state !== 'running')).toEqual([]);
      expect(status).toHaveLength(6);
    }, { timeoutMs: 30_000 });
  });

  afterAll(async () => {
    await system?.stop();
    await nc?.drain();
    await nats?.stop();
    await db?.drop();
  });

  async function agentStatus(): Promise<AgentInstance[]> {
    const reply = await nc.request('agent.status', new Uint8Array(), { timeout: 5000 });
    const body = reply.json<{ instances: AgentInstance[] } | AgentInstance[]>();
    return Array.isArray(body) ? body : body.instances;
  }

  async function chaos(action: 'kill' | 'hang', instance: string, tenantId = 'e2e-a'): Promise<void> {
    const reply = await nc.request('agent.chaos', JSON.stringify({ action, tenantId, service: 'api', instance }), { timeout: 5000 });
    expect(reply.json<{ ok: boolean }>().ok).toBe(true);
  }

  /** The incidents and remediations of `instance`; not the arms (arm_switchover) the decision service plans for its service before any fault, addressed to its first instance. */
  async function eventsFor(instance: string): Promise<Envelope[]> {
    const all = [...(await readStream<Envelope>(nc, 'INCIDENTS')), ...(await readStream<Envelope>(nc, 'REMEDIATIONS'))];
    return all
      .filter((e) => (e.data as { instance?: string }).instance === instance && (e.data as { action?: string }).action !== 'arm_switchover')
      .sort((a, b) => a.occurredAt.localeCompare(b.occurredAt));
  }

  async function expectHealedOnce(instance: string): Promise<string> {
    await expectEventually(async () => {
      const types = (await eventsFor(instance)).map((e) => e.type);
      expect(types).toEqual(expect.arrayContaining(FLOW));
    }, { timeoutMs: 45_000, intervalMs: 250 });
    const events = await eventsFor(instance);
    for (const type of FLOW) expect(events.filter((e) => e.type === type)).toHaveLength(1);
    const restarted = (await agentStatus()).find((i) => i.instance === instance);
    expect(restarted).toMatchObject({ state: 'running', restarts: 1 });
    return events.find((e) => e.type === 'incident.opened')!.correlationId!;
  }

  async function audit(tenantId: string, query: string, key = OPS_KEY): Promise<{ status: number; body: AuditPage }> {
    const res = await fetch(`${auditorUrl}/v1/tenants/${tenantId}/audit${query}`, { headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, body: (await res.json()) as AuditPage };
  }

  async function crash(name: ServiceName): Promise<void> {
    await system.services.get(name)!.stop('SIGKILL');
  }

  it('heals a killed instance: incident → plan → restart → resolved, audited in a verified chain and one trace', async () => {
    await chaos('kill', 'a-1');
    const incidentId = await expectHealedOnce('a-1');

    await expectEventually(async () => {
      const { status, body } = await audit('e2e-a', `?correlationId=${incidentId}&limit=100`);
      expect(status).toBe(200);
      expect(body.items.map((r) => r.eventType)).toEqual(expect.arrayContaining(FLOW));
    }, { timeoutMs: 20_000 });
    const verify = await audit('e2e-a', '/verify');
    expect(verify.status).toBe(200);
    expect(verify.body).toMatchObject({ ok: true, firstBreak: null });

    // One trace per incident, spanning all four services.
    const { body } = await audit('e2e-a', `?correlationId=${incidentId}&limit=100`);
    const traceIds = new Set(body.items.map((r) => r.traceId));
    expect(traceIds.size).toBe(1);
    const [traceId] = [...traceIds];
    await expectEventually(() => {
      expect(existsSync(traceFile)).toBe(true);
      const services = new Set(
        readFileSync(traceFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { traceId: string; service: string })
          .filter((s) => s.traceId === traceId)
          .map((s) => s.service),
      );
      expect([...services].sort()).toEqual(expect.arrayContaining(['auditor', 'decision', 'detector', 'executor']));
    }, { timeoutMs: 15_000 });
  });

  it('heals a hung instance', async () => {
    await chaos('hang', 'b-1', 'e2e-b');
    await expectHealedOnce('b-1');
  });

  it.each<[ServiceName, string]>([
    ['detector', 'a-2'],
    ['decision', 'a-3'],
    ['auditor', 'a-5'],
  ])('loses no incident and repeats no restart when the %s is killed mid-flow', async (service, instance) => {
    await crash(service);
    await chaos('kill', instance);
    if (service !== 'detector') {
      await expectEventually(async () => expect((await eventsFor(instance)).map((e) => e.type)).toContain('incident.opened'), { timeoutMs: 20_000 });
    } else {
      await new Promise((r) => setTimeout(r, 1500));
    }
    await system.restart(service);
    const incidentId = await expectHealedOnce(instance);
    await expectEventually(async () => {
      const { body } = await audit('e2e-a', `?correlationId=${incidentId}&limit=100`);
      const types: string[] = body.items.map((r) => r.eventType);
      for (const type of FLOW) expect(types.filter((t) => t === type)).toHaveLength(1);
    }, { timeoutMs: 20_000 });
  });

  it('repeats no restart when the executor is killed between starting and reporting a restart', async () => {
    const sub = nc.subscribe('remediation.e2e-a.started', {
      callback: (_err, msg) => {
        if (msg.json<Envelope>().data && (msg.json<Envelope<'remediation.started'>>().data.instance === 'a-4')) {
          const pid = system.services.get('executor')!.pid;
          if (pid) process.kill(pid, 'SIGKILL');
        }
      },
    });
    await chaos('kill', 'a-4');
    await expectEventually(async () => expect((await eventsFor('a-4')).map((e) => e.type)).toContain('remediation.started'), { timeoutMs: 20_000 });
    sub.unsubscribe();
    await expectEventually(() => expect(system.services.get('executor')!.pid).toBeUndefined());
    await system.restart('executor');
    await expectHealedOnce('a-4');
  });

  it('dead-letters a malformed health event with its reason and keeps running', async () => {
    // Sent by the tenant's own producer identity: the only one (with the agent and the detector) allowed on its health subjects.
    const producer = await connectNats({ servers: nats.url, ...nats.secure.credentials('producer:e2e-a'), name: 'e2e-producer', onClosedForGood: () => undefined });
    try {
      await jetstream(producer).publish('health.e2e-a.api.a-1', new TextEncoder().encode(JSON.stringify({ type: 'health.heartbeat', data: { intervalMs: 'soon' } })));
    } finally {
      await closeNats(producer);
    }
    await expectEventually(async () => {
      const records = (await readStream<DeadLetterRecord>(nc, 'DEAD_LETTER')).filter((r) => r.consumer.startsWith('detector-health-'));
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ reason: 'invalid_payload', subject: 'health.e2e-a.api.a-1' });
      expect(records[0].detail).toMatch(/invalid envelope/);
    });
    const res = await fetch(`http://127.0.0.1:${system.ports.detector}/health`);
    expect(res.status).toBe(200);
  });

  it('runs every flow above within its NATS permissions: the server logged no violation', () => {
    // A permission the table forgot (a JetStream API subject, an inbox, a dead letter) shows here
    // before it shows as a stuck consumer in production.
    expect(nats.violations()).toEqual([]);
  });

  it('scopes API keys to their tenant', async () => {
    expect((await audit('e2e-a', '', TENANT_B_KEY)).status).toBe(403);
    expect((await audit('e2e-b', '', TENANT_B_KEY)).status).toBe(200);
    expect((await audit('e2e-b', '', OPS_KEY)).status).toBe(200);
    expect((await audit('e2e-a', '', 'not-a-key')).status).toBe(401);
    const bad = await audit('e2e-a', '?limit=abc');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/limit/);
  });

  it('runs each service as its own database role', async () => {
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const { rows } = await pg.query<{ app: string; role: string }>(
        `SELECT DISTINCT application_name AS app, usename AS role FROM pg_stat_activity WHERE datname = $1 AND application_name = ANY ($2) ORDER BY 1`,
        [db.name, ['autoheal-auditor', 'autoheal-decision', 'autoheal-detector', 'autoheal-executor']],
      );
      expect(rows).toEqual(['auditor', 'decision', 'detector', 'executor'].map((s) => ({ app: `autoheal-${s}`, role: `autoheal_${s}` })));
    } finally {
      await pg.end();
    }
  });
});
