/**
 * Closing the loop, as processes (real nats-server, real Postgres, the four services and the demo
 * fleet agent with real api-server processes): a bad release that a restart does not fix. The
 * executor's success is not the end: the decision service waits for the incident to resolve by
 * the plan's verify deadline, and when it does not, plans the playbook's next candidate, or hands
 * the incident to a human when none is left.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Envelope } from '@autoheal/contracts';
import { connectNats, natsDevServerSetup, systemIdentities, type SecureNatsMaterial } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, freePort, readStream, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';

import { ROOT, startSystem, type RunningSystem } from '../tools/dev/system.js';

/** Each service has a good history and a staged bad release that answers 80 % of its requests 500. */
const RELEASES = [{ version: 'v1' }, { version: 'v2' }, { version: 'v3-bad', env: { DEMO_FAULT: 'errors' }, staged: true }];
const BAD_RELEASE = 'v3-bad';
const GOOD_RELEASE = 'v2';
/**
 * heal-a's verify deadline: long enough for a real heal to show (the detector resolves an error
 * rate only once 3 of the last 5 one-second samples are clean, and a loaded machine adds seconds),
 * and still well inside the minute the target's cooldown holds the fallback back anyway.
 */
const HEALING_DEADLINE_MS = 20_000;
/** heal-b's: the shortest a playbook may set; nothing heals there, so every verification fails as soon as it can. */
const FAILING_DEADLINE_MS = 1000;

// GDPR lets restart, replace and rollback run without a human (tenant-a walks restart → rollback,
// tenant-b restart → replace, neither of which leaves the bad release).
function tenantDocument(tenantId: string, instance: string, candidates: string[], deadlineMs: number): Record<string, unknown> {
  return {
    apiVersion: 'autoheal/v1',
    tenantId,
    displayName: tenantId,
    frameworks: ['GDPR'],
    inventory: { services: [{ service: 'api', instances: [{ instance, region: 'eu-west-1', zone: 'eu-west-1a', pool: 'shared' }] }] },
    playbooks: { error_rate: { verify: { deadlineMs }, candidates: candidates.map((action) => ({ action })) } },
  };
}

interface AgentInstance {
  tenantId: string;
  service: string;
  instance: string;
  pid: number | null;
  state: string;
  release: string;
  degradation: string | null;
}

type Event = Envelope & { data: { instance?: string; incidentId?: string; kind?: string; remediationId?: string; action?: string; reason?: string; parameters?: unknown } };

/** What a failure prints: each event's type, incident kind or action, ids and causation, in order. */
function chain(events: Event[]): string[] {
  return events.map((e) =>
    [e.type, e.data.kind ?? e.data.action ?? '', `incident=${(e.data.incidentId ?? e.correlationId ?? '-').slice(-8)}`, `remediation=${e.data.remediationId?.slice(-8) ?? '-'}`, `id=${e.id.slice(-8)}`, `cause=${e.causationId?.slice(-8) ?? '-'}`].join(' '),
  );
}

describe('autoheal verifies a remediation and walks the playbook when it did not heal (end to end)', () => {
  let nats: NatsServerHandle<SecureNatsMaterial>;
  let db: TestDatabase;
  let nc: NatsConnection;
  let system: RunningSystem;

  beforeAll(async () => {
    const fleet = {
      tenants: [
        { tenantId: 'heal-a', displayName: 'Heal A', frameworks: ['GDPR'], maxAutoActionsPerHour: 6, autoActions: ['restart'], services: [{ service: 'api', instances: ['a-1'], releases: RELEASES }] },
        { tenantId: 'heal-b', displayName: 'Heal B', frameworks: ['GDPR'], maxAutoActionsPerHour: 6, autoActions: ['restart'], services: [{ service: 'api', instances: ['b-1'], releases: RELEASES }] },
      ],
    };
    nats = await startNatsServer(natsDevServerSetup(systemIdentities(fleet)));
    db = await createTestDatabase();
    const stateDir = mkdtempSync(join(tmpdir(), 'autoheal-heal-e2e-'));
    const fleetFile = join(stateDir, 'fleet.json');
    writeFileSync(fleetFile, JSON.stringify(fleet));
    // The demo's rules with only the error rate among the metric rules: on a loaded 2-core machine
    // the instances' event-loop lag or latency may cross a threshold, and the incident that opens
    // (with its default playbook: scale_out, replace) would compete for the service's one slot.
    const demoRules = JSON.parse(readFileSync(join(ROOT, 'deploy/demo/detector-rules.json'), 'utf8')) as { defaults: Record<string, unknown> };
    const off = { enabled: false };
    const rulesFile = join(stateDir, 'detector-rules.json');
    writeFileSync(
      rulesFile,
      JSON.stringify({
        defaults: {
          ...demoRules.defaults,
          latency: off,
          anomaly: off,
          trend: off,
          slo: off,
          saturation: { cpu: off, memory: off, eventLoopLag: off, disk: off },
        },
      }),
    );
    const tenantsDir = join(stateDir, 'tenants');
    mkdirSync(tenantsDir);
    writeFileSync(join(tenantsDir, 'heal-a.json'), JSON.stringify(tenantDocument('heal-a', 'a-1', ['restart', 'rollback'], HEALING_DEADLINE_MS)));
    writeFileSync(join(tenantsDir, 'heal-b.json'), JSON.stringify(tenantDocument('heal-b', 'b-1', ['restart', 'replace'], FAILING_DEADLINE_MS)));
    system = await startSystem({
      natsUrl: nats.url,
      natsCredentials: { caFile: nats.secure.caFile, seedDir: join(nats.secure.dir, 'seeds') },
      databaseUrl: db.url,
      stateDir,
      fleetFile,
      ports: { auditor: await freePort(), detector: await freePort(), decision: await freePort(), executor: await freePort() },
      restartOnExit: false,
      env: {
        DECISION_TENANTS_DIR: tenantsDir,
        DETECTOR_RULES_FILE: rulesFile,
        HEARTBEAT_MS: '500',
        FLEET_BASE_PORT: '0',
        // Five seconds of silence before a hang is suspected: a remediation's restart (SIGKILL, a new
        // node process, its first heartbeat) on a loaded 2-core machine took over two seconds in
        // one run, and the false heartbeat_missed incident it opened took the service's slot.
        DETECTOR_MISSED_INTERVALS: '10',
        DETECTOR_OBSERVER_LATE_MS: '30000',
        // Two instances: one failing is half the fleet. The breaker has its own tests.
        DECISION_BREAKER_MIN_INSTANCES: '1000',
        DATABASE_POOL_MAX: '4',
        LOG_LEVEL: 'info',
      },
    });
    await system.waitHealthy(60_000);
    nc = await connectNats({ servers: nats.url, ...nats.secure.credentials('ops'), name: 'heal-e2e-observer', onClosedForGood: () => undefined });
    await expectEventually(async () => {
      const status = await agentStatus();
      expect(status.map((i) => [i.instance, i.state, i.release])).toEqual([
        ['a-1', 'running', GOOD_RELEASE],
        ['b-1', 'running', GOOD_RELEASE],
      ]);
    }, { timeoutMs: 30_000 });
  });

  afterAll(async () => {
    await system?.stop();
    await nc?.drain();
    await nats?.stop();
    await db?.drop();
  });

  async function agentStatus(): Promise<AgentInstance[]> {
    return (await nc.request('agent.status', new Uint8Array(), { timeout: 5000 })).json<AgentInstance[]>();
  }

  /** Rolls the bad release out to one instance, by hand, as `npm run chaos -- release` does. */
  async function rollOutBadRelease(tenantId: string, instance: string): Promise<void> {
    const reply = await nc.request('agent.chaos', JSON.stringify({ action: 'release', tenantId, service: 'api', instance, release: BAD_RELEASE }), { timeout: 30_000 });
    expect(reply.json()).toMatchObject({ ok: true, instance: { release: BAD_RELEASE, degradation: 'errors', state: 'running' } });
  }

  async function eventsFor(tenantId: string, instance: string): Promise<Event[]> {
    const all = [...(await readStream<Event>(nc, 'INCIDENTS')), ...(await readStream<Event>(nc, 'REMEDIATIONS'))];
    return all.filter((e) => e.tenantId === tenantId && e.data.instance === instance).sort((a, b) => a.occurredAt.localeCompare(b.occurredAt));
  }

  /**
   * Waits until the instance's events include `awaited`; stops early on `ending` (the other way the
   * chain can end). Generous: the target's cooldown holds every fallback until a minute after the
   * restart (GDPR preset). A timeout prints the whole chain seen.
   */
  async function untilChainHas(tenantId: string, instance: string, awaited: Event['type'], ending: Event['type']): Promise<void> {
    let seen: Event[] = [];
    try {
      await expectEventually(async () => {
        seen = await eventsFor(tenantId, instance);
        const types = seen.map((e) => e.type);
        if (types.includes(ending) && !types.includes(awaited)) return;
        expect(types).toContain(awaited);
      }, { timeoutMs: 180_000, intervalMs: 500 });
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\nevents of ${tenantId}/${instance}:\n${chain(seen).join('\n')}`);
    }
  }

  /** The error_rate incident's events and the decisions on it (all correlated with the incident id). */
  async function errorRateChain(tenantId: string, instance: string): Promise<Event[]> {
    const events = await eventsFor(tenantId, instance);
    const opened = events.filter((e) => e.type === 'incident.opened' && e.data.kind === 'error_rate');
    if (opened.length !== 1) throw new Error(`expected one error_rate incident, saw ${opened.length} in:\n${chain(events).join('\n')}`);
    const incidentId = opened[0].data.incidentId;
    return events.filter((e) => e.data.incidentId === incidentId || e.correlationId === incidentId);
  }

  function only(events: Event[], type: string, remediationId?: string): Event {
    const found = events.filter((e) => e.type === type && (remediationId === undefined || e.data.remediationId === remediationId));
    if (found.length !== 1) throw new Error(`expected one ${type}${remediationId ? ` of ${remediationId}` : ''}, saw ${found.length} in:\n${chain(events).join('\n')}`);
    return found[0];
  }

  it('a bad release: restart does not heal it (verification fails at the deadline), the rollback fallback does (verified)', async () => {
    await rollOutBadRelease('heal-a', 'a-1');

    // Generous: the cooldown holds the fallback until a minute after the restart (GDPR preset).
    await untilChainHas('heal-a', 'a-1', 'remediation.verified', 'remediation.escalated');

    const events = await errorRateChain('heal-a', 'a-1');
    const opened = only(events, 'incident.opened');
    expect(opened.data).toMatchObject({ kind: 'error_rate' });
    const plans = events.filter((e) => e.type === 'remediation.planned');
    expect(plans.map((p) => p.data.action)).toEqual(['restart', 'rollback']);
    const [restart, rollback] = plans as Envelope<'remediation.planned'>[];
    expect(restart.causationId).toBe(opened.id);
    expect(restart.data).toMatchObject({ runtime: { kind: 'agent' }, verify: { deadlineMs: HEALING_DEADLINE_MS } });
    expect(rollback.data).toMatchObject({ parameters: { toRelease: 'previous' }, verify: { deadlineMs: HEALING_DEADLINE_MS } });
    expect(rollback.data.remediationId).not.toBe(restart.data.remediationId);

    // restart: carried out, then not verified — the instance still runs the bad release.
    only(events, 'remediation.succeeded', restart.data.remediationId);
    const failed = only(events, 'remediation.verification_failed', restart.data.remediationId);
    expect(failed.data.reason).toMatch(/incident was still open at the verification deadline/);
    // The fallback is decided from the failed verification (at once, or deferred by the target's cooldown first).
    const decidedAfter = events.find((e) => (e.type === 'remediation.planned' || e.type === 'remediation.deferred') && e.data.remediationId === rollback.data.remediationId);
    expect(decidedAfter?.causationId).toBe(failed.id);

    // rollback: carried out, the incident resolves, the rollback is verified.
    const succeeded = only(events, 'remediation.succeeded', rollback.data.remediationId);
    expect(succeeded.data).toMatchObject({ action: 'rollback' });
    const resolved = only(events, 'incident.resolved');
    const verified = only(events, 'remediation.verified', rollback.data.remediationId);
    expect(verified.causationId).toBe(resolved.id);
    expect(verified.data).toMatchObject({ verifiedBy: 'incident_resolved', action: 'rollback' });
    expect(events.filter((e) => e.type === 'remediation.escalated')).toEqual([]);

    // The instance runs the release before the bad one again, and answers healthy.
    const a1 = (await agentStatus()).find((i) => i.instance === 'a-1');
    expect(a1).toMatchObject({ state: 'running', release: GOOD_RELEASE, degradation: null });
  }, 240_000);

  it('a bad release that neither restart nor replace heals: each fails verification, then a human is paged naming both attempts', async () => {
    await rollOutBadRelease('heal-b', 'b-1');

    await untilChainHas('heal-b', 'b-1', 'remediation.escalated', 'remediation.verified');

    const events = await errorRateChain('heal-b', 'b-1');
    const plans = events.filter((e) => e.type === 'remediation.planned');
    expect(plans.map((p) => p.data.action)).toEqual(['restart', 'replace']);
    const [restart, replace] = plans;
    for (const plan of plans) {
      only(events, 'remediation.succeeded', plan.data.remediationId);
      only(events, 'remediation.verification_failed', plan.data.remediationId);
    }
    const firstFailure = only(events, 'remediation.verification_failed', restart.data.remediationId);
    const replaceDecided = events.find((e) => (e.type === 'remediation.planned' || e.type === 'remediation.deferred') && e.data.remediationId === replace.data.remediationId);
    expect(replaceDecided?.causationId).toBe(firstFailure.id);
    const escalated = only(events, 'remediation.escalated');
    expect(escalated.data.reason).toMatch(/^restart failed \(verification_failed: .*\), then replace failed \(verification_failed: .*\); no fallback/);
    expect(events.filter((e) => e.type === 'remediation.verified' || e.type === 'incident.resolved')).toEqual([]);

    // Nothing healed it: the instance still runs the bad release (on the port the replace gave it).
    const b1 = (await agentStatus()).find((i) => i.instance === 'b-1');
    expect(b1).toMatchObject({ state: 'running', release: BAD_RELEASE, degradation: 'errors' });
  }, 240_000);
});
