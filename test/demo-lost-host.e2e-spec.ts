/**
 * The demo's lost host, as processes (real nats-server, real Postgres, the four services and the
 * demo's agents with real api-server processes), with the demo's own tenant and fleet entries
 * (deploy/tenants/hooli-eu.yaml, the hooli-eu tenant of deploy/demo/fleet.json): status-api-1 runs
 * on a host of its own (agent demo-host-eu-west), its cold standby waits in eu-central-1 on
 * another (demo-standby-eu-central). The test kills that host, agent and instance at once (one
 * SIGKILL to its process group, as `npm start`'s step does), and follows the heal: the detector
 * misses the heartbeats, the decision service plans a failover naming the standby region (inside
 * the tenant's residency), the executor commands the standby's agent, which starts the standby,
 * moves the traffic (the demo's traffic switch records the route) and promotes it; its heartbeats
 * resolve the incident and verify the failover. The audit trail holds every step.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { parse } from 'yaml';
import type { Envelope } from '@autoheal/contracts';
import { connectNats, natsDevServerSetup, systemIdentities, type SecureNatsMaterial } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, freePort, readStream, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';

import { agentProcessName, ROOT, startSystem, type RunningSystem } from '../tools/dev/system.js';

const OPS_KEY = 'ops_demo_lost_host_key_0123456789';
const TENANT = 'hooli-eu';
const SERVICE = 'status-api';
const INSTANCE = 'status-api-1';
/** Silence, a failover that starts a process, and the heartbeats that resolve: every hop stretched by a loaded 2-core machine. */
const HEAL_TIMEOUT_MS = 150_000;

interface FleetService {
  service: string;
  instances: string[];
  agentId?: string;
  standby?: { agentId: string; region: string; instances: string[] };
}
interface Fleet {
  tenants: { tenantId: string; services: FleetService[] }[];
}

interface AgentInstance {
  tenantId: string;
  service: string;
  instance: string;
  pid: number | null;
  port: number;
  state: string;
}

interface Effect {
  verb: string;
  object: string;
  detail?: Record<string, unknown>;
}

type Event = Envelope & {
  data: {
    instance?: string;
    incidentId?: string;
    kind?: string;
    remediationId?: string;
    action?: string;
    verifiedBy?: string;
    parameters?: Record<string, unknown>;
    details?: { effects?: Effect[]; agentId?: string };
  };
};

interface AuditRow {
  eventType: string;
  action: string;
  outcome: string;
}

/** What a failure prints: each event's type, incident kind or action, ids and causation, in order. */
function chain(events: Event[]): string {
  return events
    .map((e) =>
      [e.type, e.data.kind ?? e.data.action ?? '', `incident=${(e.data.incidentId ?? e.correlationId ?? '-').slice(-8)}`, `remediation=${e.data.remediationId?.slice(-8) ?? '-'}`, `id=${e.id.slice(-8)}`, `cause=${e.causationId?.slice(-8) ?? '-'}`].join(' '),
    )
    .join('\n');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the demo lost host: failover to the standby region, within residency (end to end)', () => {
  const demoFleet = JSON.parse(readFileSync(join(ROOT, 'deploy/demo/fleet.json'), 'utf8')) as Fleet;
  const fleet: Fleet = { tenants: demoFleet.tenants.filter((t) => t.tenantId === TENANT) };
  const tenantFile = join(ROOT, 'deploy/tenants', `${TENANT}.yaml`);
  const tenantDoc = parse(readFileSync(tenantFile, 'utf8')) as { overrides: { allowedRegions: string[] }; inventory: { services: { service: string; standbyRegions: string[] }[] } };
  const service = fleet.tenants[0].services.find((s) => s.service === SERVICE)!;
  const hostAgent = service.agentId!;
  const standby = service.standby!;

  let nats: NatsServerHandle<SecureNatsMaterial>;
  let db: TestDatabase;
  let nc: NatsConnection;
  let system: RunningSystem;
  let auditorUrl: string;

  beforeAll(async () => {
    nats = await startNatsServer(natsDevServerSetup(systemIdentities(fleet)));
    db = await createTestDatabase();
    const stateDir = mkdtempSync(join(tmpdir(), 'autoheal-demo-lost-host-e2e-'));
    const fleetFile = join(stateDir, 'fleet.json');
    writeFileSync(fleetFile, JSON.stringify(fleet));
    const tenantsDir = join(stateDir, 'tenants');
    mkdirSync(tenantsDir);
    copyFileSync(tenantFile, join(tenantsDir, `${TENANT}.yaml`));
    // Silence and exits only: on a loaded 2-core machine a metric (latency, event-loop lag) may cross
    // a threshold by itself, and the incident that opens would compete for the service's one slot.
    const demoRules = JSON.parse(readFileSync(join(ROOT, 'deploy/demo/detector-rules.json'), 'utf8')) as { defaults: Record<string, unknown> };
    const off = { enabled: false };
    const rulesFile = join(stateDir, 'detector-rules.json');
    writeFileSync(
      rulesFile,
      JSON.stringify({
        defaults: { ...demoRules.defaults, errorRate: off, latency: { ...(demoRules.defaults.latency as object), enabled: false }, anomaly: off, trend: off, slo: off, saturation: { cpu: off, memory: off, eventLoopLag: off, disk: off } },
      }),
    );
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
        DECISION_TENANTS_DIR: tenantsDir,
        DETECTOR_RULES_FILE: rulesFile,
        HEARTBEAT_MS: '500',
        FLEET_BASE_PORT: '0',
        // Five seconds of silence before a hang is suspected: a held event loop on a loaded 2-core
        // machine must not open a heartbeat_missed incident before the host is lost.
        DETECTOR_MISSED_INTERVALS: '10',
        DETECTOR_OBSERVER_LATE_MS: '30000',
        // The standby's process starts cold on a loaded machine.
        AGENT_READY_TIMEOUT_MS: '30000',
        DATABASE_POOL_MAX: '4',
        AUDITOR_OPS_API_KEY: OPS_KEY,
        AUDITOR_READ_RATE_PER_MINUTE: '100000',
        AUDITOR_READ_BURST: '100000',
        LOG_LEVEL: 'info',
      },
    });
    // Generous: on a loaded 2-core machine four NestJS services may take over a minute to listen.
    await system.waitHealthy(150_000);
    nc = await connectNats({ servers: nats.url, ...nats.secure.credentials('ops'), name: 'demo-lost-host-e2e-observer', onClosedForGood: () => undefined });
  }, 300_000);

  afterAll(async () => {
    await system?.stop();
    await nc?.drain();
    await nats?.stop();
    await db?.drop();
  });

  /** Every agent answers agent.status with its own instances: one list per agent that answered. */
  async function agentStatuses(): Promise<AgentInstance[][]> {
    const replies = await nc.requestMany('agent.status', new Uint8Array(), { strategy: 'stall', stall: 500, maxWait: 5000 });
    const lists: AgentInstance[][] = [];
    for await (const reply of replies) lists.push(reply.json<AgentInstance[]>());
    return lists;
  }

  /** The tenant's incidents and remediations; not the arms (arm_switchover) the decision service plans for its services before any fault. */
  async function eventsFor(tenantId: string): Promise<Event[]> {
    const all = [...(await readStream<Event>(nc, 'INCIDENTS')), ...(await readStream<Event>(nc, 'REMEDIATIONS'))];
    return all.filter((e) => e.tenantId === tenantId && e.data.action !== 'arm_switchover').sort((a, b) => a.occurredAt.localeCompare(b.occurredAt));
  }

  function logTail(name: string): string {
    const file = join(system.logDir, `${name}.log`);
    return existsSync(file) ? `--- ${name}.log (last 20 lines)\n${readFileSync(file, 'utf8').split('\n').slice(-20).join('\n')}` : `--- no ${name}.log`;
  }

  function only(events: Event[], type: string, seen: () => string): Event {
    const found = events.filter((e) => e.type === type);
    if (found.length !== 1) throw new Error(`expected one ${type}, saw ${found.length}\n${seen()}`);
    return found[0];
  }

  it('kills the host running status-api-1 and fails the service over to its standby in eu-central-1, verified and audited', async () => {
    // The demo's own configuration names the standby region, and the residency allows it.
    const standbyRegions = tenantDoc.inventory.services.find((s) => s.service === SERVICE)!.standbyRegions;
    expect(standbyRegions).toEqual([standby.region]);
    expect(tenantDoc.overrides.allowedRegions).toContain(standby.region);

    // The primary runs status-api-1; the standby's agent keeps it down until a failover.
    let primary: AgentInstance | undefined;
    await expectEventually(async () => {
      const lists = await agentStatuses();
      const mine = lists.map((l) => l.filter((i) => i.tenantId === TENANT && i.instance === INSTANCE));
      primary = mine.flat().find((i) => i.state === 'running');
      expect({ agents: lists.length, primary: primary?.state, cold: mine.flat().filter((i) => i.state === 'exited' && i.pid === null).length }).toEqual({ agents: 2, primary: 'running', cold: 1 });
    }, { timeoutMs: 60_000, intervalMs: 500 });
    const lostPid = primary!.pid!;
    // Its heartbeats reach the detector before the host is lost: silence is then a change.
    await expectEventually(async () => {
      const health = await readStream<Envelope & { data: { instance?: string } }>(nc, 'HEALTH');
      expect(health.filter((e) => e.tenantId === TENANT && e.data.instance === INSTANCE).length).toBeGreaterThanOrEqual(3);
    }, { timeoutMs: 60_000, intervalMs: 500 });

    const host = system.services.get(agentProcessName(hostAgent))!;
    const hostPid = host.pid!;
    await host.loseHost();
    // Agent and instance gone at once: nobody reported the exit.
    await expectEventually(() => expect({ agent: alive(hostPid), instance: alive(lostPid) }).toEqual({ agent: false, instance: false }), { timeoutMs: 10_000, intervalMs: 100 });

    let events: Event[] = [];
    const seen = () => `events of ${TENANT}:\n${chain(events)}\n${logTail(agentProcessName(standby.agentId))}\n${logTail('executor')}\n${logTail('decision')}`;
    try {
      await expectEventually(async () => {
        events = await eventsFor(TENANT);
        const types: string[] = events.map((e) => e.type);
        if (['remediation.escalated', 'remediation.verification_failed', 'remediation.failed'].some((t) => types.includes(t))) return;
        expect(types).toContain('remediation.verified');
      }, { timeoutMs: HEAL_TIMEOUT_MS, intervalMs: 500 });
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${seen()}`);
    }

    // One incident: the silence of status-api-1.
    const opened = only(events, 'incident.opened', seen);
    expect({ kind: opened.data.kind, instance: opened.data.instance, chain: seen() }).toEqual({ kind: 'heartbeat_missed', instance: INSTANCE, chain: seen() });
    // A failover, planned first and only, naming the standby region, which the residency allows.
    const plans = events.filter((e) => e.type === 'remediation.planned');
    expect({ plans: plans.map((p) => [p.data.action, p.data.parameters]), chain: seen() }).toEqual({ plans: [['failover', { toRegion: standby.region }]], chain: seen() });
    expect(tenantDoc.overrides.allowedRegions).toContain(plans[0].data.parameters?.toRegion);
    expect(plans[0].causationId).toBe(opened.id);
    const remediationId = plans[0].data.remediationId;
    const wrong: string[] = ['remediation.escalated', 'remediation.verification_failed', 'remediation.failed', 'remediation.awaiting_approval'];
    expect(events.filter((e) => wrong.includes(e.type)).map((e) => e.type)).toEqual([]);

    // Carried out by the standby's agent (its signed reply), not the lost host's.
    only(events, 'remediation.started', seen);
    const succeeded = only(events, 'remediation.succeeded', seen);
    expect(succeeded.data.remediationId).toBe(remediationId);
    expect(succeeded.data.details?.agentId).toBe(standby.agentId);
    const effects = succeeded.data.details?.effects ?? [];
    expect(effects.map((e) => [e.verb, e.object])).toEqual([
      ['started', INSTANCE],
      ['routed', SERVICE],
      ['promoted', INSTANCE],
    ]);
    expect(effects[1].detail).toMatchObject({ toRegion: standby.region });

    // The standby's heartbeats resolved the incident, which verified the failover.
    const resolved = only(events, 'incident.resolved', seen);
    const verified = only(events, 'remediation.verified', seen);
    expect(verified.causationId).toBe(resolved.id);
    expect(verified.data).toMatchObject({ remediationId, action: 'failover', verifiedBy: 'incident_resolved' });

    // The traffic switch recorded the route into the standby region.
    const routes = readFileSync(system.routesFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { tenantId: string; service: string; region: string; remediationId: string; instances: { instance: string; port: number }[] });
    expect(routes.map((r) => [r.tenantId, r.service, r.region, r.remediationId, r.instances.map((i) => i.instance)])).toEqual([[TENANT, SERVICE, standby.region, remediationId, [INSTANCE]]]);
    // And the standby serves on the port it was routed to, as status-api-1.
    const [{ port }] = routes[0].instances;
    const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { instance: string; tenantId: string; pid: number };
    expect(health).toMatchObject({ tenantId: TENANT, instance: INSTANCE });
    expect(health.pid).not.toBe(lostPid);

    // The audit trail: every step of the incident, the failover's own rows among them.
    let rows: AuditRow[] = [];
    try {
      await expectEventually(async () => {
        const res = await fetch(`${auditorUrl}/v1/tenants/${TENANT}/audit?correlationId=${opened.data.incidentId}&limit=100`, { headers: { authorization: `Bearer ${OPS_KEY}` } });
        expect(res.status).toBe(200);
        rows = ((await res.json()) as { items: AuditRow[] }).items;
        expect(rows.map((r) => [r.eventType, r.action, r.outcome])).toEqual(
          expect.arrayContaining([
            ['incident.opened', 'incident.open', 'info'],
            ['remediation.planned', 'failover.plan', 'info'],
            ['remediation.started', 'failover.start', 'info'],
            ['remediation.succeeded', 'failover.execute', 'success'],
            ['incident.resolved', 'incident.resolve', 'success'],
            ['remediation.verified', 'failover.verify', 'success'],
          ]),
        );
      }, { timeoutMs: 30_000, intervalMs: 500 });
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\naudit rows: ${JSON.stringify(rows.map((r) => [r.eventType, r.action, r.outcome]))}`);
    }
  }, 300_000);
});
