/**
 * The agent runtime's driver against the real thing: the host agent (apps/agent) supervising real
 * api-server processes (the demo's), the executor's NatsAgentDriver, a real nats-server between them, run
 * through the conformance suite every driver passes. It lives here because it joins two apps
 * (an app may not import another).
 *
 * What the agent did is taken from the agent's own account of its processes (the changes it
 * reports as it spawns, kills and throttles them), never from the driver's answer. A second agent,
 * in eu-west-1, keeps a cold standby of every service, which a failover starts; its traffic
 * switch is an HTTP server of the test's.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ActionParameters, RemediationAction } from '@autoheal/contracts';
import { closeNats, connectNats, loadSigningMaterial } from '@autoheal/messaging';
import { createTestKeys, expectEventually, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import { startAgent, type RunningAgent } from '../../apps/agent/src/agent.js';
import type { InstanceChange } from '../../apps/agent/src/supervisor/managed-instance.js';
import { API_SERVER_ENTRY, apiServerService } from '../../apps/agent/src/test-support/api-server-service.js';
import { NatsAgentDriver } from '../../apps/executor/src/drivers/nats-agent.driver.js';
import { performChecked, type DriverEffect } from '../../apps/executor/src/drivers/remediation-driver.js';
import { parseTargetAgents } from '../../apps/executor/src/drivers/target-agents.js';
import { describeDriverConformance, type DriverTarget } from '../../apps/executor/src/test-support/driver-conformance.js';

const TENANT = 'conf';
// One single-instance service per target the suite asks for (it asks for 20 with every action
// the agent has, failover and scale_in included), so that no test sees another's effects: each on
// release v2, with v1 before it. target() names the shortfall if the suite ever asks for more.
const SERVICES = Array.from({ length: 22 }, (_, i) => `s${String(i + 1).padStart(2, '0')}`);
const STANDBY_REGION = 'eu-west-1';

const PARAMETERS: Record<RemediationAction, ActionParameters> = {
  restart: {},
  replace: {},
  rollback: { toRelease: 'previous' },
  scale_out: { maxInstances: 2, scaleInAfterMs: 60_000 },
  throttle: { limitPerSecond: 5, ttlMs: 60_000 },
  failover: { toRegion: STANDBY_REGION },
  scale_in: { minInstances: 1 },
  arm_switchover: { armTtlMs: 600_000 },
};
/** arm_switchover needs a service with warm spares: every arm the suite asks for is on this one (an arm replaces the service's last). */
const SPARED = 'sw';

const keys = createTestKeys(['executor', 'agent:demo-fleet', 'agent:standby-eu']);
let nats: NatsServerHandle | undefined;
let nc: NatsConnection | undefined;
let agent: RunningAgent | undefined;
let standby: RunningAgent | undefined;
let trafficSwitch: Server | undefined;
let stateDir: string | undefined;
const changes: InstanceChange[] = [];
let nextService = 0;

async function healthzPid(port: number): Promise<number | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(500) });
    return res.status === 200 ? ((await res.json()) as { pid: number }).pid : null;
  } catch {
    return null;
  }
}

describeDriverConformance(
  'NatsAgentDriver with the host agent (real processes, real nats-server)',
  'agent',
  async () => {
    if (!existsSync(API_SERVER_ENTRY)) throw new Error(`${API_SERVER_ENTRY} is missing: build first (npx tsc -b tsconfig.build.json)`);
    // Sixteen api-servers on a small machine: no synthetic traffic of their own.
    process.env.TRAFFIC_RPS = '0';
    nats = await startNatsServer();
    stateDir = mkdtempSync(join(tmpdir(), 'autoheal-conformance-'));
    agent = await startAgent({
      natsUrl: nats.url,
      services: [
        ...SERVICES.map((service) => apiServerService(TENANT, service, [`${service}-1`], { releases: [{ version: 'v1' }, { version: 'v2' }] }, 1_000)),
        apiServerService(TENANT, SPARED, [`${SPARED}-1`], { warmSpares: 1 }, 1_000),
      ],
      stateDir,
      readyTimeoutMs: 15_000,
      ackTimeoutMs: 5_000,
      logger: pino({ level: 'silent' }),
      childStdio: 'ignore',
      signing: { agentId: 'demo-fleet', key: keys.key('agent:demo-fleet'), trust: keys.trust },
      onChange: (change) => changes.push(change),
    });
    for (const s of agent.supervisor.status()) {
      await expectEventually(async () => expect(await healthzPid(s.port)).toBe(s.pid), { timeoutMs: 30_000 });
    }
    const routes = createServer((req, res) => void req.resume().on('end', () => res.writeHead(200).end('{}')));
    trafficSwitch = routes;
    await new Promise<void>((resolve) => routes.listen(0, '127.0.0.1', resolve));
    standby = await startAgent({
      natsUrl: nats.url,
      region: STANDBY_REGION,
      services: SERVICES.map((service) =>
        apiServerService(TENANT, service, [`${service}-1`], { standby: { mode: 'cold', traffic: { kind: 'http', url: `http://127.0.0.1:${(routes.address() as AddressInfo).port}/routes` } } }, 1_000),
      ),
      stateDir: join(stateDir, 'standby'),
      readyTimeoutMs: 15_000,
      logger: pino({ level: 'silent' }),
      childStdio: 'ignore',
      signing: { agentId: 'standby-eu', key: keys.key('agent:standby-eu'), trust: keys.trust },
      onChange: (change) => changes.push(change),
    });

    nc = await connectNats({ servers: nats.url, name: 'conformance-executor', onClosedForGood: () => undefined });
    const rules = parseTargetAgents(`${TENANT}=demo-fleet,${TENANT}@${STANDBY_REGION}=standby-eu`);
    if (!rules.ok) throw new Error(rules.problems.join('; '));
    const signing = loadSigningMaterial({ keyFile: keys.env('executor').AUTOHEAL_SIGNING_KEY_FILE, trustFile: keys.trustFile }, 'executor');
    // Longer than the agent's own waits (readiness 15 s), so that a slow start is not taken for silence.
    const driver = new NatsAgentDriver(nc, { AGENT_TIMEOUT_MS: 20_000, EXECUTOR_COMMAND_TTL_MS: 60_000, EXECUTOR_TARGET_AGENTS: rules.rules }, signing, { now: () => new Date() });

    return {
      driver,
      async target(action): Promise<DriverTarget> {
        if (action === 'arm_switchover') return { tenantId: TENANT, service: SPARED, instance: `${SPARED}-1`, runtime: { kind: 'agent' } };
        const service = SERVICES[nextService++];
        if (!service) throw new Error(`the fleet has only ${SERVICES.length} services; the suite asked for more targets`);
        const target: DriverTarget = { tenantId: TENANT, service, instance: `${service}-1`, runtime: { kind: 'agent' } };
        // A scale-in needs something a scale_out added: one more instance, through the driver.
        if (action === 'scale_in') {
          const out = await performChecked(driver, { ...target, remediationId: randomUUID(), action: 'scale_out', parameters: PARAMETERS.scale_out });
          if (!out.ok) throw new Error(`could not scale ${service} out before scaling it in: ${JSON.stringify(out)}`);
        }
        return target;
      },
      unknownTarget: () => ({ tenantId: 'elsewhere', service: 'api', instance: 'api-1', runtime: { kind: 'agent' } }),
      parametersFor: (action) => PARAMETERS[action],
      observedEffects(remediationId: string): Promise<DriverEffect[]> {
        return Promise.resolve(changes.filter((c) => c.remediationId === remediationId).map((c) => ({ verb: c.verb, object: c.object ?? c.ref.instance, detail: c.detail })));
      },
      silence() {
        const resume = agent!.pause();
        return Promise.resolve(() => Promise.resolve(resume()));
      },
    };
  },
  async () => {
    await standby?.stop();
    await new Promise((resolve) => (trafficSwitch ? trafficSwitch.close(resolve) : resolve(undefined)));
    await agent?.stop();
    if (nc) await closeNats(nc);
    await nats?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    keys.remove();
  },
);
