import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import {
  AGENT_CHAOS_SUBJECT,
  AGENT_STATUS_SUBJECT,
  agentCommandReply,
  agentCommandSubject,
  newEventId,
  type AgentChaosReply,
  type AgentCommandReply,
  type Envelope,
  type MetricSample,
} from '@autoheal/contracts';
import { signCommand, verifyReply } from '@autoheal/security';
import { createTestKeys, expectEventually, readStream, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import type { InstanceRef } from './config/agent-config.js';
import type { InstanceStatus } from './supervisor/managed-instance.js';
import { AGENT_PRODUCER, startAgent, type RunningAgent } from './agent.js';
import { API_SERVER_ENTRY, apiServerService } from './test-support/api-server-service.js';

// The agent spawns the compiled api-server, as it does in the demo.
const services = [apiServerService('acme-health', 'patient-api', ['patient-api-1', 'patient-api-2'])];
const keys = createTestKeys();
afterAll(() => keys.remove());

const ONE: InstanceRef = { tenantId: 'acme-health', service: 'patient-api', instance: 'patient-api-1' };
const TWO: InstanceRef = { tenantId: 'acme-health', service: 'patient-api', instance: 'patient-api-2' };

describe('fleet agent with real api-server processes and a real nats-server', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let stateDir: string;
  let agent: RunningAgent | undefined;
  /** Metric samples each instance reported, by instance name, oldest first. */
  const samples = new Map<string, MetricSample[]>();

  const start = () =>
    startAgent({
      natsUrl: server.url,
      services,
      stateDir,
      readyTimeoutMs: 15_000,
      chaos: true,
      logger: pino({ level: 'silent' }),
      childStdio: 'ignore',
      signing: { agentId: 'demo-fleet', key: keys.key('agent:demo-fleet'), trust: keys.trust },
    });

  async function status(): Promise<InstanceStatus[]> {
    return (await nc.request(AGENT_STATUS_SUBJECT, '', { timeout: 5_000 })).json<InstanceStatus[]>();
  }

  async function statusOf(ref: InstanceRef): Promise<InstanceStatus> {
    const found = (await status()).find((s) => s.instance === ref.instance);
    if (!found) throw new Error(`${ref.instance} missing from agent.status`);
    return found;
  }

  /** A command for ONE (or `over`), signed by `identity`, issued `offsetMs` from now and valid 30 s. */
  function signedBy(identity: 'executor' | 'decision', offsetMs = 0, over: Partial<InstanceRef & { remediationId: string }> = {}) {
    const issued = Date.now() + offsetMs;
    return signCommand(keys.key(identity), {
      commandId: newEventId(),
      remediationId: newEventId(),
      ...ONE,
      action: 'restart',
      parameters: {},
      issuedAt: new Date(issued).toISOString(),
      expiresAt: new Date(issued + 30_000).toISOString(),
      ...over,
    });
  }

  /** The pid a restart reply names (-1 for a failure). */
  function pidOf(reply: AgentCommandReply): number {
    if (!reply.ok) return -1;
    const [effect] = reply.effects;
    expect(effect).toMatchObject({ verb: 'restarted' });
    return effect.detail?.pid as number;
  }

  async function restart(ref: InstanceRef, remediationId: string): Promise<AgentCommandReply> {
    const now = Date.now();
    const command = signCommand(keys.key('executor'), {
      commandId: newEventId(),
      remediationId,
      ...ref,
      action: 'restart',
      parameters: {},
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 30_000).toISOString(),
    });
    const reply = await nc.request(agentCommandSubject(ref.tenantId, ref.service, ref.instance), JSON.stringify(command), { timeout: 20_000 });
    const answer = agentCommandReply.parse(reply.json());
    // Every answer is the agent's own, signed for this very command.
    expect(verifyReply(keys.trust, answer, { identity: 'agent:demo-fleet', remediationId, commandId: command.commandId }, new Date())).toEqual({ ok: true });
    return answer;
  }

  async function chaos(action: string, ref: InstanceRef): Promise<AgentChaosReply> {
    return (await nc.request(AGENT_CHAOS_SUBJECT, JSON.stringify({ action, ...ref }), { timeout: 10_000 })).json<AgentChaosReply>();
  }

  /** The pid that answers GET /healthz on a port, or null when nothing answers. */
  async function healthzPid(port: number): Promise<number | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(500) });
      return res.status === 200 ? ((await res.json()) as { pid: number }).pid : null;
    } catch {
      return null;
    }
  }

  /** GET /v1/orders `count` times, one after another: the statuses and how long each took. */
  async function getOrders(port: number, count: number): Promise<{ status: number; ms: number }[]> {
    const out: { status: number; ms: number }[] = [];
    for (let i = 0; i < count; i++) {
      const started = Date.now();
      const res = await fetch(`http://127.0.0.1:${port}/v1/orders`, { signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      out.push({ status: res.status, ms: Date.now() - started });
    }
    return out;
  }

  function samplesSince(ref: InstanceRef, from: number): MetricSample[] {
    return (samples.get(ref.instance) ?? []).filter((s) => Date.parse(s.at) >= from);
  }

  async function messagesOn(subject: string): Promise<number> {
    const info = await jsm.streams.info('HEALTH', { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  }

  function isAlive(pid: number): boolean {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  beforeAll(async () => {
    if (!existsSync(API_SERVER_ENTRY)) {
      throw new Error(`${API_SERVER_ENTRY} is missing: build first (npx tsc -b apps/demo-fleet)`);
    }
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'HEALTH', subjects: ['health.>'] });
    stateDir = mkdtempSync(join(tmpdir(), 'autoheal-agent-'));
    nc.subscribe('health.>', {
      callback: (error, msg) => {
        if (error) return;
        const event = msg.json<Envelope>();
        if (event.type !== 'health.metrics') return;
        const { instance, samples: batch } = event.data;
        samples.set(instance, [...(samples.get(instance) ?? []), ...batch]);
      },
    });
    agent = await start();
    for (const s of agent.supervisor.status()) {
      await expectEventually(async () => expect(await healthzPid(s.port)).toBe(s.pid), { timeoutMs: 15_000 });
    }
  });

  afterAll(async () => {
    await agent?.stop();
    await nc?.close();
    await server?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('runs one api-server per instance, each answering /healthz with its pid and heartbeating on its own subject', async () => {
    const instances = await status();
    expect(instances.map((s) => [s.instance, s.state, s.restarts])).toEqual([
      ['patient-api-1', 'running', 0],
      ['patient-api-2', 'running', 0],
    ]);
    for (const s of instances) {
      expect(await healthzPid(s.port)).toBe(s.pid);
      const subject = `health.${s.tenantId}.${s.service}.${s.instance}`;
      await expectEventually(async () => expect(await messagesOn(subject)).toBeGreaterThanOrEqual(2));
    }
    const orders = await fetch(`http://127.0.0.1:${instances[0].port}/v1/orders`);
    expect(orders.status).toBe(200);
    expect(await orders.json()).toMatchObject({ tenantId: 'acme-health', servedBy: 'patient-api-1' });
  });

  it('serves its own synthetic traffic and reports it, with memory against its limit, every second', async () => {
    const from = Date.now();
    await expectEventually(() => expect(samplesSince(ONE, from).length).toBeGreaterThanOrEqual(2), { timeoutMs: 5_000 });
    const [sample] = samplesSince(ONE, from).slice(-1);
    expect(sample.windowMs).toBeGreaterThanOrEqual(900);
    expect(sample.windowMs).toBeLessThanOrEqual(1_500);
    // About 5 requests a second from the built-in client, every one of them a success.
    expect(sample.requests).toBeGreaterThanOrEqual(3);
    expect(sample.errors).toBe(0);
    expect(sample.memoryLimitBytes).toBe(256 * 1024 * 1024);
    expect(sample.memoryBytes).toBeGreaterThan(0);
  });

  it('restarts an instance once per remediation: new pid that answers /healthz, then replays', async () => {
    const before = await statusOf(ONE);
    const other = await statusOf(TWO);
    const remediationId = newEventId();

    const first = await restart(ONE, remediationId);
    expect(first).toMatchObject({ ok: true, remediationId, action: 'restart', replayed: false, effects: [{ verb: 'restarted', object: ONE.instance, detail: { previousPid: before.pid } }] });
    if (!first.ok) throw new Error('unreachable');
    expect(pidOf(first)).not.toBe(before.pid);
    expect(isAlive(before.pid!)).toBe(false);
    expect(await healthzPid(before.port)).toBe(pidOf(first));
    expect(await statusOf(ONE)).toMatchObject({ pid: pidOf(first), port: before.port, state: 'running', restarts: 1, lastRestartRemediationId: remediationId });

    const again = await restart(ONE, remediationId);
    expect(again).toMatchObject({ ok: true, remediationId, effects: first.effects, completedAt: first.completedAt, replayed: true });
    expect(await statusOf(ONE)).toMatchObject({ pid: pidOf(first), restarts: 1 });
    expect(await healthzPid(before.port)).toBe(pidOf(first));

    // The other instance was not touched.
    expect(await statusOf(TWO)).toMatchObject({ pid: other.pid, restarts: 0 });
  });

  it.each([
    ['unsigned', (c: Record<string, unknown>) => ({ ...c, signature: undefined, keyId: undefined }), /^unsigned/],
    ['signed by the decision service', () => signedBy('decision'), /^not_entitled/],
    ['expired', () => signedBy('executor', -120_000), /^expired/],
    ['with its body changed after signing', (c: Record<string, unknown>) => ({ ...c, parameters: { maxInstances: 9 } }), /^bad_signature/],
    ['with its action changed after signing', (c: Record<string, unknown>) => ({ ...c, action: 'replace' }), /^bad_signature/],
  ] as const)('refuses a command %s over NATS, signs the refusal, and restarts nothing', async (_name, tamper, reason) => {
    const before = await statusOf(ONE);
    const body = tamper(signedBy('executor') as unknown as Record<string, unknown>);
    const reply = agentCommandReply.parse((await nc.request(agentCommandSubject(ONE.tenantId, ONE.service, ONE.instance), JSON.stringify(body), { timeout: 20_000 })).json());
    expect(reply).toMatchObject({ ok: false, code: 'command_rejected', agentId: 'demo-fleet' });
    if (reply.ok) throw new Error('unreachable');
    expect(reply.message).toMatch(reason);
    expect(await statusOf(ONE)).toMatchObject({ pid: before.pid, restarts: before.restarts });
    expect(await healthzPid(before.port)).toBe(before.pid);
  });

  it('refuses a replayed command that asks the same remediation for another target, and restarts nothing', async () => {
    const remediationId = newEventId();
    const first = await restart(ONE, remediationId);
    expect(first).toMatchObject({ ok: true, replayed: false });
    const other = await statusOf(TWO);
    const twisted = signedBy('executor', 0, { ...TWO, remediationId });
    const reply = agentCommandReply.parse((await nc.request(agentCommandSubject(TWO.tenantId, TWO.service, TWO.instance), JSON.stringify(twisted), { timeout: 20_000 })).json());
    expect(reply).toMatchObject({ ok: false, code: 'command_rejected' });
    expect(await statusOf(TWO)).toMatchObject({ pid: other.pid, restarts: other.restarts });
  });

  it('makes concurrent duplicates wait for the first restart instead of restarting twice', async () => {
    const before = await statusOf(ONE);
    const remediationId = newEventId();
    const replies = await Promise.all([restart(ONE, remediationId), restart(ONE, remediationId), restart(ONE, remediationId)]);
    expect(replies.every((r) => r.ok)).toBe(true);
    const pids = new Set(replies.map(pidOf));
    expect(pids.size).toBe(1);
    expect(replies.map((r) => (r.ok ? r.replayed : null)).sort()).toEqual([false, true, true]);
    expect(await statusOf(ONE)).toMatchObject({ restarts: before.restarts + 1, pid: [...pids][0] });
  });

  it('chaos kill leaves the instance dead until a restart brings it back', async () => {
    const before = await statusOf(TWO);
    const killed = await chaos('kill', TWO);
    expect(killed).toMatchObject({ ok: true, action: 'kill', instance: { state: 'exited', pid: null } });
    expect(await statusOf(TWO)).toMatchObject({ state: 'exited', pid: null, lastExit: { signal: 'SIGKILL' } });
    expect(await healthzPid(before.port)).toBeNull();
    // Healing is autoheal's job: the agent does not bring it back by itself.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await statusOf(TWO)).toMatchObject({ state: 'exited', pid: null });
    expect(await chaos('kill', TWO)).toMatchObject({ ok: false, code: 'not_running' });
    expect(await chaos('errors', TWO)).toMatchObject({ ok: false, code: 'not_running' });

    const healed = await restart(TWO, newEventId());
    expect(healed).toMatchObject({ ok: true, replayed: false });
    expect(await statusOf(TWO)).toMatchObject({ state: 'running', pid: pidOf(healed) });
  });

  it('reports a process that died as health.exited at once, and none for the restarts it does itself', async () => {
    const exitedOf = async (ref: InstanceRef) =>
      (await readStream<Envelope>(nc, 'HEALTH')).filter((e): e is Envelope<'health.exited'> => e.type === 'health.exited' && e.data.instance === ref.instance);
    const before = (await exitedOf(TWO)).length;
    await restart(ONE, newEventId());
    await chaos('kill', TWO);
    await expectEventually(async () => expect(await exitedOf(TWO)).toHaveLength(before + 1));
    const [event] = (await exitedOf(TWO)).slice(-1);
    expect(event).toMatchObject({ tenantId: TWO.tenantId, producer: AGENT_PRODUCER, data: { service: TWO.service, instance: TWO.instance, exitCode: null, signal: 'SIGKILL', observedBy: 'agent' } });
    // Every restart of ONE so far (this test's and the earlier ones) was the agent's own doing.
    expect(await exitedOf(ONE)).toHaveLength(0);
    expect(await restart(TWO, newEventId())).toMatchObject({ ok: true });
  });

  it('chaos hang stops heartbeats and /healthz; resume brings them back; a restart also clears a hang', async () => {
    const subject = 'health.acme-health.patient-api.patient-api-1';
    const before = await statusOf(ONE);
    expect(await chaos('hang', ONE)).toMatchObject({ ok: true, instance: { state: 'hung', pid: before.pid } });
    expect(await statusOf(ONE)).toMatchObject({ state: 'hung', pid: before.pid });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const frozenCount = await messagesOn(subject);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await messagesOn(subject)).toBe(frozenCount);
    expect(await healthzPid(before.port)).toBeNull();

    expect(await chaos('resume', ONE)).toMatchObject({ ok: true, instance: { state: 'running', pid: before.pid } });
    await expectEventually(async () => expect(await messagesOn(subject)).toBeGreaterThan(frozenCount + 1));
    expect(await healthzPid(before.port)).toBe(before.pid);

    await chaos('hang', ONE);
    const restarted = await restart(ONE, newEventId());
    expect(restarted).toMatchObject({ ok: true });
    expect(isAlive(before.pid!)).toBe(false);
    expect(await statusOf(ONE)).toMatchObject({ state: 'running', pid: pidOf(restarted) });
  });

  it('chaos errors answers most requests with 500 and reports them, /healthz still answers; resume ends it', async () => {
    const before = await statusOf(ONE);
    expect(await chaos('errors', ONE)).toMatchObject({ ok: true, action: 'errors', instance: { state: 'running', pid: before.pid, degradation: 'errors' } });
    const from = Date.now();
    const failed = (await getOrders(before.port, 100)).filter((r) => r.status === 500).length;
    // 80 % on average. With 100 requests both bounds hold but for a chance near 1e-10 each
    // (with 20, all 20 failing happened about once a hundred runs: 0.8^20).
    expect(failed).toBeGreaterThanOrEqual(50);
    expect(failed).toBeLessThan(100);
    expect(await healthzPid(before.port)).toBe(before.pid);
    // What the detector's error-rate rule reads.
    await expectEventually(() => expect(samplesSince(ONE, from).some((s) => (s.errors ?? 0) >= 3)).toBe(true), { timeoutMs: 5_000 });

    expect(await chaos('resume', ONE)).toMatchObject({ ok: true, instance: { pid: before.pid, degradation: null } });
    expect((await getOrders(before.port, 10)).map((r) => r.status)).toEqual(new Array(10).fill(200));
  });

  it('chaos slow answers every request late but /healthz at once; a restart clears it', async () => {
    const before = await statusOf(ONE);
    expect(await chaos('slow', ONE)).toMatchObject({ ok: true, instance: { degradation: 'slow' } });
    const from = Date.now();
    const slow = await getOrders(before.port, 3);
    expect(slow.every((r) => r.status === 200 && r.ms >= 390)).toBe(true);
    await expectEventually(() => expect(samplesSince(ONE, from).some((s) => (s.latencyMs?.p99 ?? 0) >= 390)).toBe(true), { timeoutMs: 5_000 });
    const started = Date.now();
    expect(await healthzPid(before.port)).toBe(before.pid);
    expect(Date.now() - started).toBeLessThan(390);

    const restarted = await restart(ONE, newEventId());
    expect(restarted).toMatchObject({ ok: true });
    expect(await statusOf(ONE)).toMatchObject({ state: 'running', degradation: null, pid: pidOf(restarted) });
    expect((await getOrders(before.port, 3)).every((r) => r.status === 200 && r.ms < 390)).toBe(true);
  });

  it('chaos leak grows the memory the instance reports, steadily; a restart clears it', async () => {
    const before = await statusOf(TWO);
    const from = Date.now();
    await expectEventually(() => expect(samplesSince(TWO, from).length).toBeGreaterThanOrEqual(1), { timeoutMs: 5_000 });
    const baseline = samplesSince(TWO, from)[0].memoryBytes!;
    expect(await chaos('leak', TWO)).toMatchObject({ ok: true, instance: { pid: before.pid, degradation: 'leak' } });
    const leakFrom = Date.now();
    // 4 MiB a second: 12 MiB more within a few seconds, and still growing.
    await expectEventually(() => expect(samplesSince(TWO, leakFrom).slice(-1)[0]?.memoryBytes ?? 0).toBeGreaterThan(baseline + 12 * 1024 * 1024), { timeoutMs: 10_000 });
    const grown = samplesSince(TWO, leakFrom).slice(-1)[0].memoryBytes!;
    await expectEventually(() => expect(samplesSince(TWO, leakFrom).slice(-1)[0].memoryBytes).toBeGreaterThan(grown + 4 * 1024 * 1024), { timeoutMs: 5_000 });

    const restarted = await restart(TWO, newEventId());
    expect(restarted).toMatchObject({ ok: true });
    expect(await statusOf(TWO)).toMatchObject({ degradation: null });
    const fresh = Date.now();
    await expectEventually(() => expect(samplesSince(TWO, fresh).length).toBeGreaterThanOrEqual(1), { timeoutMs: 5_000 });
    expect(samplesSince(TWO, fresh)[0].memoryBytes).toBeLessThan(grown);
  });

  it('rejects invalid and unknown requests without touching any process', async () => {
    const before = await status();
    const unknown = { tenantId: 'acme-health', service: 'patient-api', instance: 'patient-api-9' };
    // It listens only for the commands of the instances it runs: one it does not run has no responder.
    await expect(restart(unknown, newEventId())).rejects.toThrow(/no responders/);
    const garbage = await nc.request(agentCommandSubject(ONE.tenantId, ONE.service, ONE.instance), 'not json', { timeout: 5_000 });
    expect(agentCommandReply.parse(garbage.json())).toMatchObject({ ok: false, code: 'invalid_request' });
    expect(await chaos('explode', ONE)).toMatchObject({ ok: false, code: 'invalid_request' });
    expect(await chaos('kill', unknown)).toMatchObject({ ok: false, code: 'unknown_instance' });
    expect(await chaos('leak', unknown)).toMatchObject({ ok: false, code: 'unknown_instance' });
    const extra = await nc.request(AGENT_CHAOS_SUBJECT, JSON.stringify({ action: 'slow', ...ONE, delayMs: 5_000 }), { timeout: 5_000 });
    expect(extra.json()).toMatchObject({ ok: false, code: 'invalid_request' });
    expect((await status()).every((s) => s.degradation === null)).toBe(true);
    expect((await status()).map((s) => s.pid)).toEqual(before.map((s) => s.pid));
  });

  it('remembers restarts across an agent restart, and its instances stop gracefully with it', async () => {
    const remediationId = newEventId();
    const first = await restart(ONE, remediationId);
    if (!first.ok) throw new Error(`restart failed: ${first.message}`);
    const firstPid = pidOf(first);

    const old = agent!;
    agent = undefined;
    await old.stop();
    // SIGTERM reached the api-servers: each exited 0 and announced its stop.
    for (const s of old.supervisor.status()) expect(s).toMatchObject({ state: 'exited', lastExit: { code: 0, signal: null } });
    expect(isAlive(firstPid)).toBe(false);
    for (const ref of [ONE, TWO]) {
      const last = await jsm.streams.getMessage('HEALTH', { last_by_subj: `health.${ref.tenantId}.${ref.service}.${ref.instance}` });
      expect(last?.json()).toMatchObject({ type: 'health.stopping', data: { instance: ref.instance, reason: 'shutdown' } });
    }

    agent = await start();
    const fresh = agent.supervisor.status().find((s) => s.instance === ONE.instance)!;
    await expectEventually(async () => expect(await healthzPid(fresh.port)).toBe(fresh.pid), { timeoutMs: 15_000 });

    const replay = await restart(ONE, remediationId);
    expect(replay).toMatchObject({ ok: true, remediationId, effects: first.effects, completedAt: first.completedAt, replayed: true });
    // Nothing was restarted: same process as the new agent started, no restart counted.
    expect(await statusOf(ONE)).toMatchObject({ pid: fresh.pid, restarts: 0, lastRestartRemediationId: null });
  });

  it('kills instances an agent that died left behind, even a hung one that cannot notice', async () => {
    await chaos('hang', ONE);
    const abandoned = agent!;
    const leftovers = abandoned.supervisor.status().map((s) => s.pid!);
    // As if the agent had been SIGKILLed: it stops answering and never stops its instances.
    await abandoned.nc.close();
    expect(leftovers.every(isAlive)).toBe(true);

    agent = await start();
    expect(leftovers.some(isAlive)).toBe(false);
    const instances = await status();
    expect(instances.map((s) => s.state)).toEqual(['running', 'running']);
    expect(instances.filter((s) => leftovers.includes(s.pid!))).toEqual([]);
    await abandoned.stop();
  });
});
