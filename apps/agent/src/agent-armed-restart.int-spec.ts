import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { AGENT_CHAOS_SUBJECT, AGENT_STATUS_SUBJECT, agentCommandReply, agentCommandSubject, newEventId, type AgentCommandReply, type AgentInstanceStatus, type Envelope } from '@autoheal/contracts';
import { signCommand, type Identity } from '@autoheal/security';
import { createTestKeys, expectEventually, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import type { InstanceRef } from './config/agent-config.js';
import { startAgent, type RunningAgent } from './agent.js';
import { API_SERVER_ENTRY, apiServerService } from './test-support/api-server-service.js';

// `cold` keeps no warm spare: a crash under an arm that allows it is restarted in place.
const COLD_INSTANCES = ['cold-1', 'cold-2', 'cold-3', 'cold-4', 'cold-5', 'cold-6', 'cold-7', 'cold-8', 'cold-9'];
const services = [apiServerService('acme-health', 'cold', COLD_INSTANCES)];
const keys = createTestKeys();
afterAll(() => keys.remove());

const COLD = (instance: string): InstanceRef => ({ tenantId: 'acme-health', service: 'cold', instance });
const TEN_MINUTES = 600_000;

type Heal = 'switch' | 'restart';

describe('armed restart: a crash of an instance without a spare restarted by the agent at once under an arm the executor signed, with real processes and a real nats-server', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let stateDir: string;
  let agent: RunningAgent;
  /** Moved forward by the expiry test: the agent reads its time from here. */
  let offsetMs = 0;
  const clock = { now: () => new Date(Date.now() + offsetMs) };
  const exits: Envelope<'health.exited'>[] = [];

  const start = () =>
    startAgent({
      natsUrl: server.url,
      services,
      stateDir,
      readyTimeoutMs: 15_000,
      chaos: true,
      clock,
      logger: pino({ level: 'silent' }),
      childStdio: 'ignore',
      signing: { agentId: 'demo-fleet', key: keys.key('agent:demo-fleet'), trust: keys.trust },
    });

  async function statusOf(ref: InstanceRef): Promise<AgentInstanceStatus> {
    const all = (await nc.request(AGENT_STATUS_SUBJECT, '', { timeout: 5_000 })).json<AgentInstanceStatus[]>();
    const found = all.find((s) => s.service === ref.service && s.instance === ref.instance);
    if (!found) throw new Error(`${ref.instance} missing from agent.status: ${JSON.stringify(all)}`);
    return found;
  }

  /** A command as the executor (or `as`) signs it, aimed at `ref`. `heals` undefined: the parameter left out. */
  function command(ref: InstanceRef, action: 'arm_switchover' | 'restart', opts: { as?: Identity; remediationId?: string; armTtlMs?: number; heals?: Heal[] | null; body?: Partial<InstanceRef> } = {}) {
    const now = clock.now().getTime();
    const heals = opts.heals === undefined ? (['restart'] as Heal[]) : opts.heals;
    return signCommand(keys.key(opts.as ?? 'executor'), {
      commandId: newEventId(),
      remediationId: opts.remediationId ?? newEventId(),
      ...ref,
      ...opts.body,
      action,
      parameters: action === 'arm_switchover' ? { armTtlMs: opts.armTtlMs ?? TEN_MINUTES, ...(heals ? { armHeals: heals } : {}) } : {},
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 30_000).toISOString(),
    });
  }

  async function send(ref: InstanceRef, body: unknown): Promise<AgentCommandReply> {
    const reply = await nc.request(agentCommandSubject(ref.tenantId, ref.service, ref.instance), JSON.stringify(body), { timeout: 20_000 });
    return agentCommandReply.parse(reply.json());
  }

  async function healthz(port: number): Promise<{ pid: number; instance: string } | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(500) });
      return res.status === 200 ? ((await res.json()) as { pid: number; instance: string }) : null;
    } catch {
      return null;
    }
  }

  /** SIGKILLs the instance's process (chaos kill) and waits for its health.exited. */
  async function crash(ref: InstanceRef): Promise<Envelope<'health.exited'>> {
    const seen = exits.length;
    await nc.request(AGENT_CHAOS_SUBJECT, JSON.stringify({ action: 'kill', ...ref }), { timeout: 5_000 });
    let exit: Envelope<'health.exited'> | undefined;
    await expectEventually(
      () => {
        exit = exits.slice(seen).find((e) => e.data.instance === ref.instance);
        if (!exit) throw new Error(`no health.exited for ${ref.instance}; saw ${JSON.stringify(exits.slice(seen))}`);
      },
      { timeoutMs: 10_000 },
    );
    return exit!;
  }

  /**
   * The crash was left for autoheal: the exit names no arm, no process was spawned for the
   * instance (its restart count unchanged) and its port answers nothing, also a while after the
   * exit was reported (a spawn under an arm is made before the report, so it would show by then).
   */
  async function expectNotRestarted(ref: InstanceRef, exit: Envelope<'health.exited'>, before: AgentInstanceStatus): Promise<void> {
    expect(exit.data.restartedUnderArm).toBeUndefined();
    expect(exit.data.switchedUnderArm).toBeUndefined();
    expect(await statusOf(ref)).toMatchObject({ pid: null, state: 'exited', restarts: before.restarts });
    expect(await healthz(before.port)).toBeNull();
  }

  /** A running instance, answering on its port. */
  async function running(ref: InstanceRef): Promise<AgentInstanceStatus> {
    let status: AgentInstanceStatus | undefined;
    await expectEventually(
      async () => {
        status = await statusOf(ref);
        expect((await healthz(status.port))?.pid).toBe(status.pid);
      },
      { timeoutMs: 20_000 },
    );
    return status!;
  }

  /** Crashes a fresh instance and checks that the agent did not restart it on its own. */
  async function expectCrashLeftForAutoheal(ref: InstanceRef): Promise<void> {
    const before = await running(ref);
    await expectNotRestarted(ref, await crash(ref), before);
  }

  beforeAll(async () => {
    if (!existsSync(API_SERVER_ENTRY)) throw new Error(`${API_SERVER_ENTRY} is missing: build first (npx tsc -b apps/demo-fleet)`);
    process.env.TRAFFIC_RPS = '0';
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await (await jetstreamManager(nc)).streams.add({ name: 'HEALTH', subjects: ['health.>'] });
    nc.subscribe('health.>', {
      callback: (error, msg) => {
        if (error) return;
        const event = msg.json<Envelope>();
        if (event.type === 'health.exited') exits.push(event);
      },
    });
    stateDir = mkdtempSync(join(tmpdir(), 'autoheal-agent-armed-restart-'));
    agent = await start();
    for (const instance of COLD_INSTANCES) await running(COLD(instance));
  });

  afterAll(async () => {
    await agent?.stop();
    await nc?.close();
    await server?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('without an arm, a crash is left for autoheal: nothing is started on the agent’s own', async () => {
    expect((await statusOf(COLD('cold-9'))).armedSwitchover).toBeNull();
    await expectCrashLeftForAutoheal(COLD('cold-9'));
  });

  it('restarts the crashed instance at once under an arm that allows it, once, says so in health.exited, and the incident’s restart claims it; a second crash right after goes the slow way', async () => {
    const armId = newEventId();
    const armed = await send(COLD('cold-1'), command(COLD('cold-1'), 'arm_switchover', { remediationId: armId }));
    expect(armed).toMatchObject({ ok: true, action: 'arm_switchover', effects: [{ verb: 'armed', object: 'cold', detail: { heals: ['restart'], instances: COLD_INSTANCES } }] });
    expect((await statusOf(COLD('cold-2'))).armedSwitchover).toMatchObject({ remediationId: armId, heals: ['restart'] });

    const before = await running(COLD('cold-2'));
    const exit = await crash(COLD('cold-2'));
    expect(exit.data.restartedUnderArm).toBe(armId);
    expect(exit.data.switchedUnderArm).toBeUndefined();
    // A new process of the same release, on the same port, started before the exit was reported.
    const after = await statusOf(COLD('cold-2'));
    expect(after).toMatchObject({ state: 'running', port: before.port, release: before.release, restarts: before.restarts + 1, lastRestartRemediationId: armId, armedSwitchover: null });
    expect(after.pid).not.toBeNull();
    expect(after.pid).not.toBe(before.pid);
    await expectEventually(async () => expect(await healthz(before.port)).toMatchObject({ pid: after.pid, instance: 'cold-2' }), { timeoutMs: 15_000 });

    // The incident's restart claims it: reported with the arm's id, nothing restarted again.
    const restart = await send(COLD('cold-2'), command(COLD('cold-2'), 'restart'));
    expect(restart).toMatchObject({ ok: true, effects: [{ verb: 'restarted', object: 'cold-2', detail: { pid: after.pid, previousPid: null, underArm: armId } }] });
    expect(await statusOf(COLD('cold-2'))).toMatchObject({ pid: after.pid, state: 'running', restarts: before.restarts + 1 });

    // Crash loop: the restarted process dies again at once. The arm was used: the agent leaves it
    // down, for the control plane (its guardrails: cooldown, breaker, escalation) to decide.
    await expectNotRestarted(COLD('cold-2'), await crash(COLD('cold-2')), after);
    // A restart the control plane sends is carried out as usual, naming no arm.
    const slow = await send(COLD('cold-2'), command(COLD('cold-2'), 'restart'));
    expect(slow).toMatchObject({ ok: true, effects: [{ verb: 'restarted', object: 'cold-2', detail: { previousPid: null } }] });
    expect((slow as { effects: { detail?: Record<string, unknown> }[] }).effects[0].detail?.underArm).toBeUndefined();
    // One shot for the service too: another instance's crash finds no arm.
    await expectCrashLeftForAutoheal(COLD('cold-3'));
  });

  it('does not restart under an arm that was not signed (no signature), signed by the decision service instead of the executor, or signed for another tenant', async () => {
    const { signature: _signature, keyId: _keyId, ...unsigned } = command(COLD('cold-1'), 'arm_switchover');
    expect(await send(COLD('cold-1'), unsigned)).toMatchObject({ ok: false, code: 'command_rejected' });
    expect(await send(COLD('cold-1'), command(COLD('cold-1'), 'arm_switchover', { as: 'decision' }))).toMatchObject({ ok: false, code: 'command_rejected' });
    // Signed by the executor for another tenant's service, sent on this agent's subject.
    expect(await send(COLD('cold-1'), command(COLD('cold-1'), 'arm_switchover', { body: { tenantId: 'other-tenant' } }))).toMatchObject({ ok: false, code: 'command_rejected' });
    expect((await statusOf(COLD('cold-4'))).armedSwitchover).toBeNull();
    await expectCrashLeftForAutoheal(COLD('cold-4'));
  });

  it('does not restart under an arm whose policy allows no restart (the switch only, or no armHeals as arms before): refused for a service without spares', async () => {
    expect(await send(COLD('cold-1'), command(COLD('cold-1'), 'arm_switchover', { heals: ['switch'] }))).toMatchObject({ ok: false, code: 'unsupported_action' });
    expect(await send(COLD('cold-1'), command(COLD('cold-1'), 'arm_switchover', { heals: null }))).toMatchObject({ ok: false, code: 'unsupported_action' });
    expect((await statusOf(COLD('cold-5'))).armedSwitchover).toBeNull();
    await expectCrashLeftForAutoheal(COLD('cold-5'));
  });

  it('does not restart under a withdrawn arm, nor under a replayed one once used', async () => {
    const armId = newEventId();
    const body = command(COLD('cold-1'), 'arm_switchover', { remediationId: armId });
    expect(await send(COLD('cold-1'), body)).toMatchObject({ ok: true });
    // Withdrawn (armTtlMs 0, as the decision service plans it when the policy stops allowing the heal).
    expect(await send(COLD('cold-1'), command(COLD('cold-1'), 'arm_switchover', { armTtlMs: 0 }))).toMatchObject({ ok: true, effects: [{ verb: 'armed', detail: { withdrawn: true } }] });
    expect((await statusOf(COLD('cold-6'))).armedSwitchover).toBeNull();
    await expectCrashLeftForAutoheal(COLD('cold-6'));

    // Armed again and used; then the same command, and a fresh one of the same remediation, replayed: no new arm.
    const usedId = newEventId();
    const used = command(COLD('cold-1'), 'arm_switchover', { remediationId: usedId });
    expect(await send(COLD('cold-1'), used)).toMatchObject({ ok: true });
    const before7 = await running(COLD('cold-7'));
    expect((await crash(COLD('cold-7'))).data.restartedUnderArm).toBe(usedId);
    await expectEventually(async () => expect((await healthz(before7.port))?.instance).toBe('cold-7'), { timeoutMs: 15_000 });
    expect(await send(COLD('cold-1'), used)).toMatchObject({ ok: true, replayed: true });
    expect(await send(COLD('cold-1'), command(COLD('cold-1'), 'arm_switchover', { remediationId: usedId }))).toMatchObject({ ok: true, replayed: true });
    expect((await statusOf(COLD('cold-8'))).armedSwitchover).toBeNull();
    await expectCrashLeftForAutoheal(COLD('cold-8'));
  });

  it('does not restart under an arm past its expiry', async () => {
    expect(await send(COLD('cold-1'), command(COLD('cold-1'), 'arm_switchover', { armTtlMs: 60_000 }))).toMatchObject({ ok: true });
    const before = await running(COLD('cold-1'));
    // A minute and a second later for the agent: the arm has lapsed.
    offsetMs = 61_000;
    try {
      expect((await statusOf(COLD('cold-1'))).armedSwitchover).toBeNull();
      await expectNotRestarted(COLD('cold-1'), await crash(COLD('cold-1')), before);
    } finally {
      offsetMs = 0;
    }
  });
});
