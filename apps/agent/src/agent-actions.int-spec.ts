import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AGENT_CHAOS_SUBJECT, AGENT_STATUS_SUBJECT, agentCommandReply, agentCommandSubject, newEventId, type ActionParameters, type AgentCommandReply, type RemediationAction } from '@autoheal/contracts';
import { signCommand, verifyReply } from '@autoheal/security';
import { createTestKeys, expectEventually, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import type { InstanceRef } from './config/agent-config.js';
import type { InstanceChange, InstanceStatus } from './supervisor/managed-instance.js';
import { startAgent, type RunningAgent } from './agent.js';
import { API_SERVER_ENTRY, apiServerService } from './test-support/api-server-service.js';

// The agent spawns the compiled api-server, as it does in the demo.
const services = [
  apiServerService(
    'acme-health',
    'web',
    ['web-1', 'web-2'],
    { releases: [{ version: 'v1' }, { version: 'v2', env: { FEATURE: 'two' } }, { version: 'v3' }, { version: 'v4', env: { DEMO_FAULT: 'errors' }, fault: 'errors', staged: true }] },
    500,
  ),
];
const keys = createTestKeys();
afterAll(() => keys.remove());

const ONE: InstanceRef = { tenantId: 'acme-health', service: 'web', instance: 'web-1' };
const TWO: InstanceRef = { tenantId: 'acme-health', service: 'web', instance: 'web-2' };

// The agent's actions beyond restart (agent.int-spec.ts covers restart, signing and chaos).
describe('fleet agent actions with real api-server processes and a real nats-server', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let stateDir: string;
  let agent: RunningAgent;
  const changes: InstanceChange[] = [];

  async function status(): Promise<InstanceStatus[]> {
    return (await nc.request(AGENT_STATUS_SUBJECT, '', { timeout: 5_000 })).json<InstanceStatus[]>();
  }

  async function statusOf(instance: string): Promise<InstanceStatus> {
    const found = (await status()).find((s) => s.instance === instance);
    if (!found) throw new Error(`${instance} missing from agent.status: ${JSON.stringify(await status())}`);
    return found;
  }

  /** Sends a command signed by the executor and checks the reply is the agent's, for it. */
  async function send(ref: InstanceRef, action: RemediationAction, parameters: ActionParameters = {}, remediationId = newEventId()): Promise<AgentCommandReply> {
    const now = Date.now();
    const command = signCommand(keys.key('executor'), {
      commandId: newEventId(),
      remediationId,
      ...ref,
      action,
      parameters,
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 30_000).toISOString(),
    });
    const reply = await nc.request(agentCommandSubject(ref.tenantId, ref.service, ref.instance), JSON.stringify(command), { timeout: 20_000 });
    const answer = agentCommandReply.parse(reply.json());
    expect(verifyReply(keys.trust, answer, { identity: 'agent:demo-fleet', remediationId, commandId: command.commandId }, new Date())).toEqual({ ok: true });
    return answer;
  }

  async function healthz(port: number): Promise<{ pid: number; instance: string; release: string } | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(500) });
      return res.status === 200 ? ((await res.json()) as { pid: number; instance: string; release: string }) : null;
    } catch {
      return null;
    }
  }

  function isAlive(pid: number): boolean {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  const changesOf = (remediationId: string) => changes.filter((c) => c.remediationId === remediationId).map((c) => [c.verb, c.ref.instance]);

  beforeAll(async () => {
    if (!existsSync(API_SERVER_ENTRY)) {
      throw new Error(`${API_SERVER_ENTRY} is missing: build first (npx tsc -b apps/demo-fleet)`);
    }
    process.env.TRAFFIC_RPS = '0';
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    stateDir = mkdtempSync(join(tmpdir(), 'autoheal-agent-actions-'));
    agent = await startAgent({
      natsUrl: server.url,
      services,
      stateDir,
      readyTimeoutMs: 15_000,
      ackTimeoutMs: 1_000,
      chaos: true,
      logger: pino({ level: 'silent' }),
      childStdio: 'ignore',
      signing: { agentId: 'demo-fleet', key: keys.key('agent:demo-fleet'), trust: keys.trust },
      onChange: (change) => changes.push(change),
    });
    for (const s of agent.supervisor.status()) {
      await expectEventually(async () => expect((await healthz(s.port))?.pid).toBe(s.pid), { timeoutMs: 15_000 });
    }
  });

  afterAll(async () => {
    await agent?.stop();
    await nc?.close();
    await server?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('starts every instance on the last release of its service that is not staged, which the process reports', async () => {
    for (const s of await status()) {
      expect(s.release).toBe('v3');
      expect(await healthz(s.port)).toMatchObject({ pid: s.pid, release: 'v3' });
    }
  });

  it('rolls back to the release before, then the one before that, by name forward again; nothing before the first', async () => {
    const before = await statusOf('web-1');
    const first = await send(ONE, 'rollback', { toRelease: 'previous' });
    expect(first).toMatchObject({ ok: true, action: 'rollback', effects: [{ verb: 'rolled_back', object: 'web-1', detail: { fromRelease: 'v3', toRelease: 'v2' } }] });
    const onV2 = await statusOf('web-1');
    expect(onV2).toMatchObject({ release: 'v2', port: before.port, state: 'running' });
    expect(onV2.pid).not.toBe(before.pid);
    expect(isAlive(before.pid!)).toBe(false);
    expect(await healthz(onV2.port)).toMatchObject({ pid: onV2.pid, release: 'v2' });

    expect(await send(ONE, 'rollback', { toRelease: 'previous' })).toMatchObject({ ok: true, effects: [{ detail: { fromRelease: 'v2', toRelease: 'v1' } }] });
    const onV1 = await statusOf('web-1');
    const refused = await send(ONE, 'rollback', { toRelease: 'previous' });
    expect(refused).toMatchObject({ ok: false, code: 'invalid_parameters', message: expect.stringMatching(/^parameters\.toRelease: no release before v1/) as string });
    expect(await send(ONE, 'rollback', { toRelease: 'v0' })).toMatchObject({ ok: false, code: 'invalid_parameters' });
    expect(await statusOf('web-1')).toMatchObject({ pid: onV1.pid, release: 'v1' });

    expect(await send(ONE, 'rollback', { toRelease: 'v3' })).toMatchObject({ ok: true, effects: [{ verb: 'rolled_back', detail: { fromRelease: 'v1', toRelease: 'v3' } }] });
    expect(await healthz((await statusOf('web-1')).port)).toMatchObject({ release: 'v3' });
  });

  /** The statuses of `count` requests to the instance's API, one after another. */
  async function orderStatuses(port: number, count: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < count; i++) statuses.push((await fetch(`http://127.0.0.1:${port}/v1/orders`)).status);
    return statuses;
  }

  it('rolls a bad release out by hand (chaos release): it answers 500s, a restart keeps it, a rollback to the previous release heals it', async () => {
    const before = await statusOf('web-1');
    expect(before.release).toBe('v3');
    const unknown = await nc.request(AGENT_CHAOS_SUBJECT, JSON.stringify({ action: 'release', ...ONE, release: 'v9' }), { timeout: 5_000 });
    expect(unknown.json()).toMatchObject({ ok: false, code: 'unknown_release', message: expect.stringMatching(/^release: .* has no release v9/) as string });
    expect(await statusOf('web-1')).toMatchObject({ pid: before.pid, release: 'v3' });

    const rolledOut = (await nc.request(AGENT_CHAOS_SUBJECT, JSON.stringify({ action: 'release', ...ONE, release: 'v4' }), { timeout: 20_000 })).json();
    expect(rolledOut).toMatchObject({ ok: true, action: 'release', instance: { release: 'v4', degradation: 'errors', state: 'running', port: before.port } });
    const bad = await statusOf('web-1');
    expect(bad.pid).not.toBe(before.pid);
    // A hand-made deploy is not a remediation: it counts no restart and reports no change.
    expect(bad.restarts).toBe(before.restarts);
    expect(await healthz(bad.port)).toMatchObject({ pid: bad.pid, release: 'v4' });
    // errors: 80 % of requests answer 500; fewer than a quarter of twenty would be a one-in-a-billion draw.
    const onBad = await orderStatuses(bad.port, 20);
    expect(onBad.filter((s) => s === 500).length).toBeGreaterThanOrEqual(5);

    const restarted = await send(ONE, 'restart');
    expect(restarted).toMatchObject({ ok: true, effects: [{ verb: 'restarted', object: 'web-1' }] });
    expect(await statusOf('web-1')).toMatchObject({ release: 'v4', degradation: 'errors' });
    const afterRestart = await orderStatuses(bad.port, 20);
    expect(afterRestart.filter((s) => s === 500).length).toBeGreaterThanOrEqual(5);

    const rolledBack = await send(ONE, 'rollback', { toRelease: 'previous' });
    expect(rolledBack).toMatchObject({ ok: true, effects: [{ verb: 'rolled_back', object: 'web-1', detail: { fromRelease: 'v4', toRelease: 'v3' } }] });
    const healed = await statusOf('web-1');
    expect(healed).toMatchObject({ release: 'v3', degradation: null, state: 'running' });
    expect(await healthz(healed.port)).toMatchObject({ pid: healed.pid, release: 'v3' });
    expect(await orderStatuses(healed.port, 20)).toEqual(Array(20).fill(200));
  });

  it('replaces an instance immutably: a new process on a new port, ready before the old one is stopped', async () => {
    const before = await statusOf('web-2');
    // Even a hung old process is left alone until the new one answers.
    await nc.request(AGENT_CHAOS_SUBJECT, JSON.stringify({ action: 'hang', ...TWO }), { timeout: 5_000 });
    const remediationId = newEventId();
    const reply = await send(TWO, 'replace', {}, remediationId);
    if (!reply.ok) throw new Error(`replace failed: ${reply.message}`);
    const after = await statusOf('web-2');
    expect(reply.effects).toEqual([
      { verb: 'started', object: 'web-2', detail: { pid: after.pid, port: after.port, release: 'v3' } },
      { verb: 'stopped', object: 'web-2', detail: { pid: before.pid, port: before.port } },
    ]);
    expect(changesOf(remediationId)).toEqual([
      ['started', 'web-2'],
      ['stopped', 'web-2'],
    ]);
    expect(after).toMatchObject({ state: 'running', release: 'v3', lastRestartRemediationId: remediationId });
    expect(after.port).not.toBe(before.port);
    expect(isAlive(before.pid!)).toBe(false);
    expect(await healthz(after.port)).toMatchObject({ pid: after.pid, instance: 'web-2' });
    // Asked again: nothing more.
    expect(await send(TWO, 'replace', {}, remediationId)).toMatchObject({ ok: true, replayed: true, effects: reply.effects });
    expect(changesOf(remediationId)).toHaveLength(2);
  });

  it('scales out by one instance of the same release up to maxInstances, then answers at_capacity', async () => {
    const remediationId = newEventId();
    const reply = await send(ONE, 'scale_out', { maxInstances: 3, scaleInAfterMs: 60_000 }, remediationId);
    expect(reply).toMatchObject({ ok: true, effects: [{ verb: 'started', object: 'web-3', detail: { release: 'v3', instances: 3 } }] });
    const added = await statusOf('web-3');
    expect(added).toMatchObject({ tenantId: 'acme-health', service: 'web', state: 'running', release: 'v3' });
    expect(await healthz(added.port)).toMatchObject({ pid: added.pid, instance: 'web-3' });

    const full = await send(ONE, 'scale_out', { maxInstances: 3, scaleInAfterMs: 60_000 });
    expect(full).toMatchObject({ ok: false, code: 'at_capacity' });
    expect((await status()).map((s) => s.instance)).toEqual(['web-1', 'web-2', 'web-3']);
  });

  it("throttles an instance over IPC through the SDK's admission gate: 503 beyond the limit, /healthz still answers; a hung one does not acknowledge", async () => {
    const one = await statusOf('web-1');
    const remediationId = newEventId();
    const reply = await send(ONE, 'throttle', { limitPerSecond: 1, ttlMs: 60_000 }, remediationId);
    expect(reply).toMatchObject({ ok: true, effects: [{ verb: 'throttled', object: 'web-1', detail: { limitPerSecond: 1 } }] });
    const statuses: number[] = [];
    const shedBodies: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`http://127.0.0.1:${one.port}/v1/orders`);
      statuses.push(res.status);
      const body: unknown = await res.json();
      if (res.status === 503) shedBodies.push(body);
    }
    // One token in the bucket, refilled at one a second: most of ten quick requests are shed.
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(7);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(shedBodies[0]).toMatchObject({ error: 'throttled', remediationId });
    expect(await healthz(one.port)).toMatchObject({ pid: one.pid });

    await nc.request(AGENT_CHAOS_SUBJECT, JSON.stringify({ action: 'hang', ...ONE }), { timeout: 5_000 });
    try {
      const remediationId = newEventId();
      const unanswered = await send(ONE, 'throttle', { limitPerSecond: 1, ttlMs: 60_000 }, remediationId);
      expect(unanswered).toMatchObject({ ok: false, code: 'not_acknowledged' });
      expect(changesOf(remediationId)).toEqual([]);
    } finally {
      await nc.request(AGENT_CHAOS_SUBJECT, JSON.stringify({ action: 'resume', ...ONE }), { timeout: 5_000 });
    }
  });

  it('refuses failover, which a host agent cannot do, touching nothing', async () => {
    const before = await status();
    expect(await send(ONE, 'failover', { toRegion: 'eu-west-1' })).toMatchObject({ ok: false, code: 'unsupported_action' });
    expect((await status()).map((s) => s.pid)).toEqual(before.map((s) => s.pid));
  });
});
