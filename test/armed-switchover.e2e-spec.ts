/**
 * The armed switchover, as processes (real nats-server, real Postgres, the four services and the
 * demo fleet agent with real api-server processes): the decision service arms the service's agent
 * before any fault; a SIGKILL of a fronted instance is then switched to the warm spare by the agent
 * at once; the incident still opens, its restart claims the switch, the incident resolves and the
 * restart is verified; the audit trail holds the arm and its use. The same for a service without
 * spares (the armed restart): the agent restarts the crashed instance at once under the arm, and
 * a second crash right after goes the control plane's way (the cooldown defers its restart).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Envelope } from '@autoheal/contracts';
import { connectNats, natsDevServerSetup, systemIdentities, type SecureNatsMaterial } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, freePort, readStream, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';

import { startSystem, type RunningSystem } from '../tools/dev/system.js';

const OPS_KEY = 'ops_armed_switchover_key_0123456789';
const TENANT = 'armed-t';
const FLEET = {
  tenants: [{ tenantId: TENANT, displayName: 'Armed', frameworks: ['SOC2'], maxAutoActionsPerHour: 10, autoActions: ['restart'], services: [{ service: 'api', instances: ['w-1', 'w-2'], warmSpares: 1 }, { service: 'cold', instances: ['c-1', 'c-2'] }] }],
};
const TENANT_DOCUMENT = {
  apiVersion: 'autoheal/v1',
  tenantId: TENANT,
  displayName: 'Armed',
  frameworks: ['SOC2'],
  inventory: {
    services: [
      { service: 'api', warmSpares: 1, instances: ['w-1', 'w-2'].map((instance) => ({ instance, region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' })) },
      { service: 'cold', instances: ['c-1', 'c-2'].map((instance) => ({ instance, region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' })) },
    ],
  },
  playbooks: { crashed: { candidates: [{ action: 'restart' }], verify: { deadlineMs: 30_000 } } },
};

interface AgentInstance {
  instance: string;
  pid: number | null;
  port: number;
  state: string;
  sparesReady?: number;
  restarts: number;
  armedSwitchover?: { remediationId: string; expiresAt: string; heals: string[] } | null;
}

interface AuditRow {
  eventType: string;
  action: string;
  outcome: string;
  correlationId: string | null;
}

type Event = Envelope & {
  data: { instance?: string; incidentId?: string; kind?: string; remediationId?: string; action?: string; evidence?: Record<string, unknown>; details?: { effects?: { verb: string; object: string; detail?: Record<string, unknown> }[] } };
};

function chain(events: Event[]): string {
  return events.map((e) => [e.type, e.data.kind ?? e.data.action ?? '', `incident=${(e.data.incidentId ?? '-').slice(-8)}`, `remediation=${e.data.remediationId?.slice(-8) ?? '-'}`].join(' ')).join('\n');
}

describe('armed switchover (end to end)', () => {
  let nats: NatsServerHandle<SecureNatsMaterial>;
  let db: TestDatabase;
  let nc: NatsConnection;
  let system: RunningSystem;
  let auditorUrl: string;

  beforeAll(async () => {
    nats = await startNatsServer(natsDevServerSetup(systemIdentities(FLEET)));
    db = await createTestDatabase();
    const stateDir = mkdtempSync(join(tmpdir(), 'autoheal-armed-e2e-'));
    const fleetFile = join(stateDir, 'fleet.json');
    writeFileSync(fleetFile, JSON.stringify(FLEET));
    const tenantsDir = join(stateDir, 'tenants');
    mkdirSync(tenantsDir);
    writeFileSync(join(tenantsDir, `${TENANT}.json`), JSON.stringify(TENANT_DOCUMENT));
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
        HEARTBEAT_MS: '500',
        FLEET_BASE_PORT: '0',
        TRAFFIC_RPS: '0',
        // Five seconds of silence before a hang is suspected: a loaded 2-core machine must not open a heartbeat_missed incident beside the crash.
        DETECTOR_MISSED_INTERVALS: '10',
        DETECTOR_OBSERVER_LATE_MS: '30000',
        DECISION_BREAKER_MIN_INSTANCES: '1000',
        DATABASE_POOL_MAX: '4',
        AUDITOR_OPS_API_KEY: OPS_KEY,
        AUDITOR_READ_RATE_PER_MINUTE: '100000',
        AUDITOR_READ_BURST: '100000',
        LOG_LEVEL: 'info',
      },
    });
    // Generous: on a loaded 2-core machine four NestJS services may take over a minute to listen.
    await system.waitHealthy(150_000);
    nc = await connectNats({ servers: nats.url, ...nats.secure.credentials('ops'), name: 'armed-e2e-observer', onClosedForGood: () => undefined });
  }, 240_000);

  afterAll(async () => {
    await system?.stop();
    await nc?.drain();
    await nats?.stop();
    await db?.drop();
  });

  const agentStatus = async () => (await nc.request('agent.status', new Uint8Array(), { timeout: 5000 })).json<AgentInstance[]>();

  async function auditRows(correlationId: string): Promise<AuditRow[]> {
    const res = await fetch(`${auditorUrl}/v1/tenants/${TENANT}/audit?correlationId=${correlationId}&limit=100`, { headers: { authorization: `Bearer ${OPS_KEY}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: AuditRow[] }).items;
  }

  async function events(): Promise<Event[]> {
    const all = [...(await readStream<Event>(nc, 'INCIDENTS')), ...(await readStream<Event>(nc, 'REMEDIATIONS'))];
    return all.filter((e) => e.tenantId === TENANT).sort((a, b) => a.occurredAt.localeCompare(b.occurredAt));
  }

  it('a SIGKILLed fronted instance is served from the spare under the arm; the incident opens and resolves, the restart is verified, the trail shows the arm and its use', async () => {
    // The control plane's decision, taken before the fault: the agent holds an arm, and a spare is ready.
    let armId = '';
    await expectEventually(async () => {
      const w2 = (await agentStatus()).find((i) => i.instance === 'w-2');
      expect(w2).toMatchObject({ state: 'running', sparesReady: 1, armedSwitchover: { remediationId: expect.any(String) as string } });
      armId = w2!.armedSwitchover!.remediationId;
    }, { timeoutMs: 120_000, intervalMs: 250 });
    const before = (await agentStatus()).find((i) => i.instance === 'w-2')!;

    await nc.request('agent.chaos', JSON.stringify({ action: 'kill', tenantId: TENANT, service: 'api', instance: 'w-2' }), { timeout: 10_000 });
    // Served again from another process on the instance's own port.
    await expectEventually(async () => {
      const res = await fetch(`http://127.0.0.1:${before.port}/healthz`, { signal: AbortSignal.timeout(1000) });
      expect(((await res.json()) as { pid: number }).pid).not.toBe(before.pid);
    }, { timeoutMs: 10_000, intervalMs: 20 });

    let seen: Event[] = [];
    try {
      await expectEventually(async () => {
        seen = await events();
        expect(seen.some((e) => e.type === 'remediation.verified' && e.data.instance === 'w-2')).toBe(true);
      }, { timeoutMs: 120_000, intervalMs: 500 });
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\nevents:\n${chain(seen)}`);
    }
    const opened = seen.filter((e) => e.type === 'incident.opened' && e.data.instance === 'w-2');
    expect(opened).toHaveLength(1);
    const incidentId = opened[0].data.incidentId!;
    expect(opened[0].data).toMatchObject({ kind: 'crashed', evidence: { switchedUnderArm: armId } });
    // The arm: planned by the decision service, carried out by the executor on the agent.
    const armEvents = seen.filter((e) => e.data.remediationId === armId);
    expect(armEvents.map((e) => e.type)).toEqual(expect.arrayContaining(['remediation.planned', 'remediation.started', 'remediation.succeeded']));
    expect(armEvents.find((e) => e.type === 'remediation.planned')!.data).toMatchObject({ action: 'arm_switchover', service: 'api' });
    // The incident's restart claimed the switch the agent made under the arm, and was verified.
    const mine = seen.filter((e) => e.data.incidentId === incidentId);
    const succeeded = mine.find((e) => e.type === 'remediation.succeeded')!;
    expect(succeeded.data).toMatchObject({ action: 'restart' });
    expect(succeeded.data.details?.effects).toEqual([expect.objectContaining({ verb: 'routed', object: 'w-2', detail: expect.objectContaining({ underArm: armId }) as unknown })]);
    expect(mine.map((e) => e.type)).toEqual(expect.arrayContaining(['incident.opened', 'remediation.planned', 'incident.resolved', 'remediation.verified']));
    expect(mine.filter((e) => ['remediation.escalated', 'remediation.verification_failed', 'remediation.failed'].includes(e.type))).toEqual([]);

    // The audit trail: the arm (its own correlation) and the incident, the restart verified.
    let armRows: AuditRow[] = [];
    let incidentRows: AuditRow[] = [];
    try {
      await expectEventually(async () => {
        armRows = await auditRows(armId);
        incidentRows = await auditRows(incidentId);
        expect(armRows.map((r) => [r.eventType, r.action, r.outcome])).toEqual(
          expect.arrayContaining([
            ['remediation.planned', 'arm_switchover.plan', 'info'],
            ['remediation.succeeded', 'arm_switchover.execute', 'success'],
          ]),
        );
        expect(incidentRows.map((r) => [r.eventType, r.action, r.outcome])).toEqual(
          expect.arrayContaining([
            ['incident.opened', 'incident.open', 'info'],
            ['remediation.succeeded', 'restart.execute', 'success'],
            ['remediation.verified', 'restart.verify', 'success'],
          ]),
        );
      }, { timeoutMs: 30_000, intervalMs: 500 });
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\narm rows: ${JSON.stringify(armRows)}\nincident rows: ${JSON.stringify(incidentRows)}`);
    }
    // Used: the decision service arms the service again, once the incident is verified and the cooldown (a minute) has passed.
    await expectEventually(async () => {
      const arm = (await agentStatus()).find((i) => i.instance === 'w-1')?.armedSwitchover;
      expect(arm?.remediationId).toEqual(expect.any(String));
      expect(arm?.remediationId).not.toBe(armId);
    }, { timeoutMs: 150_000, intervalMs: 250 });
  }, 420_000);

  it('a SIGKILLed instance without a spare is restarted by the agent under the arm; the incident’s restart claims it and is verified, the trail names the arm; a crash right after goes the control plane’s way', async () => {
    let armId = '';
    await expectEventually(async () => {
      const c1 = (await agentStatus()).find((i) => i.instance === 'c-1');
      expect(c1).toMatchObject({ state: 'running', armedSwitchover: { remediationId: expect.any(String) as string, heals: ['restart'] } });
      armId = c1!.armedSwitchover!.remediationId;
    }, { timeoutMs: 120_000, intervalMs: 250 });
    const before = (await agentStatus()).find((i) => i.instance === 'c-1')!;

    await nc.request('agent.chaos', JSON.stringify({ action: 'kill', tenantId: TENANT, service: 'cold', instance: 'c-1' }), { timeout: 10_000 });
    // Served again by a new process on the instance's own port.
    let restartedPid = 0;
    await expectEventually(async () => {
      const res = await fetch(`http://127.0.0.1:${before.port}/healthz`, { signal: AbortSignal.timeout(1000) });
      restartedPid = ((await res.json()) as { pid: number }).pid;
      expect(restartedPid).not.toBe(before.pid);
    }, { timeoutMs: 20_000, intervalMs: 20 });

    let seen: Event[] = [];
    const verifiedFor = (incidentId: string) => seen.some((e) => e.type === 'remediation.verified' && e.data.incidentId === incidentId);
    let incidentId = '';
    try {
      await expectEventually(async () => {
        seen = await events();
        incidentId = seen.find((e) => e.type === 'incident.opened' && e.data.instance === 'c-1')?.data.incidentId ?? '';
        expect(incidentId !== '' && verifiedFor(incidentId)).toBe(true);
      }, { timeoutMs: 120_000, intervalMs: 500 });
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}
events:
${chain(seen)}`);
    }
    const opened = seen.filter((e) => e.type === 'incident.opened' && e.data.instance === 'c-1');
    expect(opened).toHaveLength(1);
    expect(opened[0].data).toMatchObject({ kind: 'crashed', evidence: { restartedUnderArm: armId } });
    expect(seen.find((e) => e.type === 'remediation.planned' && e.data.remediationId === armId)!.data).toMatchObject({ action: 'arm_switchover', service: 'cold', parameters: { armHeals: ['restart'] } });
    // The incident's restart claimed the restart the agent made under the arm: no second process.
    const mine = seen.filter((e) => e.data.incidentId === incidentId);
    const succeeded = mine.find((e) => e.type === 'remediation.succeeded')!;
    expect(succeeded.data).toMatchObject({ action: 'restart' });
    expect(succeeded.data.details?.effects).toEqual([expect.objectContaining({ verb: 'restarted', object: 'c-1', detail: expect.objectContaining({ pid: restartedPid, underArm: armId }) as unknown })]);
    expect(mine.filter((e) => ['remediation.escalated', 'remediation.verification_failed', 'remediation.failed'].includes(e.type))).toEqual([]);
    const after = (await agentStatus()).find((i) => i.instance === 'c-1')!;
    expect(after).toMatchObject({ pid: restartedPid, state: 'running', restarts: before.restarts + 1 });

    let armRows: AuditRow[] = [];
    let incidentRows: AuditRow[] = [];
    try {
      await expectEventually(async () => {
        armRows = await auditRows(armId);
        incidentRows = await auditRows(incidentId);
        expect(armRows.map((r) => [r.eventType, r.action, r.outcome])).toEqual(
          expect.arrayContaining([
            ['remediation.planned', 'arm_switchover.plan', 'info'],
            ['remediation.succeeded', 'arm_switchover.execute', 'success'],
          ]),
        );
        expect(incidentRows.map((r) => [r.eventType, r.action, r.outcome])).toEqual(
          expect.arrayContaining([
            ['incident.opened', 'incident.open', 'info'],
            ['remediation.succeeded', 'restart.execute', 'success'],
            ['remediation.verified', 'restart.verify', 'success'],
          ]),
        );
      }, { timeoutMs: 30_000, intervalMs: 500 });
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}
arm rows: ${JSON.stringify(armRows)}
incident rows: ${JSON.stringify(incidentRows)}`);
    }
    // The rows name the arm: the incident's opening carries it as evidence, the restart's success as its effect.
    const rowsText = JSON.stringify(await auditRows(incidentId));
    expect(rowsText).toContain(`"restartedUnderArm":"${armId}"`);
    expect(rowsText).toContain(`"underArm":"${armId}"`);

    // Crash loop: the restarted process dies again within the cooldown. No arm holds (the used one
    // is renewed only after the cooldown): the agent leaves it down, the control plane defers its
    // restart until the cooldown ends, then restarts it the ordinary way.
    expect((await agentStatus()).find((i) => i.instance === 'c-1')?.armedSwitchover ?? null).toBeNull();
    await nc.request('agent.chaos', JSON.stringify({ action: 'kill', tenantId: TENANT, service: 'cold', instance: 'c-1' }), { timeout: 10_000 });
    let second = '';
    try {
      await expectEventually(async () => {
        seen = await events();
        second = seen.find((e) => e.type === 'incident.opened' && e.data.instance === 'c-1' && e.data.incidentId !== incidentId)?.data.incidentId ?? '';
        expect(second).not.toBe('');
        expect(seen.some((e) => e.type === 'remediation.deferred' && e.data.incidentId === second)).toBe(true);
      }, { timeoutMs: 60_000, intervalMs: 500 });
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}
events:
${chain(seen)}`);
    }
    expect(seen.find((e) => e.type === 'incident.opened' && e.data.incidentId === second)!.data.evidence).not.toHaveProperty('restartedUnderArm');
    expect((await agentStatus()).find((i) => i.instance === 'c-1')).toMatchObject({ pid: null, state: 'exited', restarts: before.restarts + 1 });
    try {
      await expectEventually(async () => {
        seen = await events();
        expect(verifiedFor(second)).toBe(true);
      }, { timeoutMs: 150_000, intervalMs: 1000 });
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}
events:
${chain(seen)}`);
    }
    const slow = seen.find((e) => e.type === 'remediation.succeeded' && e.data.incidentId === second)!;
    expect(slow.data.details?.effects).toEqual([expect.objectContaining({ verb: 'restarted', object: 'c-1' })]);
    expect(slow.data.details!.effects![0].detail).not.toHaveProperty('underArm');
  }, 600_000);
});
