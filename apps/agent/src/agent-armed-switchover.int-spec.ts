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

// `web` keeps one warm spare; `solo` has a front but no spare (warmSpares: 0).
const services = [
  apiServerService('acme-health', 'web', ['web-1', 'web-2', 'web-3', 'web-4', 'web-5', 'web-6', 'web-7'], { warmSpares: 1 }),
  apiServerService('acme-health', 'solo', ['solo-1'], { warmSpares: 0 }),
];
const keys = createTestKeys();
afterAll(() => keys.remove());

const WEB = (instance: string): InstanceRef => ({ tenantId: 'acme-health', service: 'web', instance });
const SOLO: InstanceRef = { tenantId: 'acme-health', service: 'solo', instance: 'solo-1' };
const TEN_MINUTES = 600_000;

type Status = AgentInstanceStatus & { armedSwitchover?: { remediationId: string; expiresAt: string } | null };

describe('armed switchover: a crash healed by the agent at once under an arm the executor signed, with real processes and a real nats-server', () => {
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

  async function statusOf(ref: InstanceRef): Promise<Status> {
    const all = (await nc.request(AGENT_STATUS_SUBJECT, '', { timeout: 5_000 })).json<Status[]>();
    const found = all.find((s) => s.service === ref.service && s.instance === ref.instance);
    if (!found) throw new Error(`${ref.instance} missing from agent.status: ${JSON.stringify(all)}`);
    return found;
  }

  /** A command as the executor (or `as`) signs it, aimed at `ref`; `body` overrides fields of the signed body. */
  function command(ref: InstanceRef, action: 'arm_switchover' | 'restart', opts: { as?: Identity; remediationId?: string; armTtlMs?: number; body?: Partial<InstanceRef> } = {}) {
    const now = clock.now().getTime();
    return signCommand(keys.key(opts.as ?? 'executor'), {
      commandId: newEventId(),
      remediationId: opts.remediationId ?? newEventId(),
      ...ref,
      ...opts.body,
      action,
      parameters: action === 'arm_switchover' ? { armTtlMs: opts.armTtlMs ?? TEN_MINUTES } : {},
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

  async function readySpare(): Promise<{ pid: number; port: number }> {
    let spare: { pid: number; port: number } | undefined;
    await expectEventually(
      () => {
        const spares = agent.supervisor.spareStatus().find((p) => p.service === 'web')?.spares ?? [];
        spare = spares.find((s) => s.ready);
        if (!spare) throw new Error(`want a ready spare, pool is ${JSON.stringify(spares)}`);
      },
      { timeoutMs: 20_000 },
    );
    return spare!;
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

  /** The crash was left for autoheal: no process backs the instance, its front answers nothing, the exit names no arm. */
  async function expectNotSwitched(ref: InstanceRef, exit: Envelope<'health.exited'>, port: number): Promise<void> {
    expect(exit.data.switchedUnderArm).toBeUndefined();
    expect(await statusOf(ref)).toMatchObject({ pid: null, state: 'exited' });
    expect(await healthz(port)).toBeNull();
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
    stateDir = mkdtempSync(join(tmpdir(), 'autoheal-agent-armed-'));
    agent = await start();
    for (const s of agent.supervisor.status()) {
      await expectEventually(async () => expect((await healthz(s.port))?.pid).toBe(s.pid), { timeoutMs: 20_000 });
    }
  });

  afterAll(async () => {
    await agent?.stop();
    await nc?.close();
    await server?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('without an arm, a crash is left for autoheal: nothing is switched on the agent’s own', async () => {
    await readySpare();
    const before = await statusOf(WEB('web-7'));
    expect(before.armedSwitchover).toBeNull();
    await expectNotSwitched(WEB('web-7'), await crash(WEB('web-7')), before.port);
  });

  it('keeps an arm signed by the executor, switches the crashed instance to the spare at once, once, and says so in health.exited', async () => {
    const spare = await readySpare();
    const armId = newEventId();
    const armed = await send(WEB('web-1'), command(WEB('web-1'), 'arm_switchover', { remediationId: armId }));
    expect(armed).toMatchObject({ ok: true, action: 'arm_switchover', effects: [{ verb: 'armed', object: 'web', detail: { expiresAt: expect.any(String) as string } }] });
    expect((await statusOf(WEB('web-2'))).armedSwitchover).toMatchObject({ remediationId: armId });

    const before = await statusOf(WEB('web-2'));
    const exit = await crash(WEB('web-2'));
    expect(exit.data.switchedUnderArm).toBe(armId);
    // Switched before the exit was reported: the front answers from the spare, now web-2.
    expect(await healthz(before.port)).toMatchObject({ pid: spare.pid, instance: 'web-2' });
    expect(await statusOf(WEB('web-2'))).toMatchObject({ pid: spare.pid, state: 'running', lastRestartRemediationId: armId, armedSwitchover: null });

    // The incident's restart claims the switch: reported with the arm's id, nothing done again.
    const restart = await send(WEB('web-2'), command(WEB('web-2'), 'restart'));
    expect(restart).toMatchObject({ ok: true, effects: [{ verb: 'routed', object: 'web-2', detail: { to: { pid: spare.pid, port: spare.port }, underArm: armId } }] });
    expect(await statusOf(WEB('web-2'))).toMatchObject({ pid: spare.pid, state: 'running' });

    // One shot: the next crash, spare ready or not, is left for autoheal.
    await readySpare();
    const web3 = await statusOf(WEB('web-3'));
    await expectNotSwitched(WEB('web-3'), await crash(WEB('web-3')), web3.port);
  });

  it('does not re-arm on a replayed arm: the same command again, or the same remediation again, gets the first outcome and arms nothing', async () => {
    await readySpare();
    const armId = newEventId();
    const body = command(WEB('web-1'), 'arm_switchover', { remediationId: armId });
    expect(await send(WEB('web-1'), body)).toMatchObject({ ok: true });
    const before = await statusOf(WEB('web-4'));
    expect((await crash(WEB('web-4'))).data.switchedUnderArm).toBe(armId);
    await expectEventually(async () => expect((await healthz(before.port))?.instance).toBe('web-4'), { timeoutMs: 10_000 });

    // The very same command again (a retry, as the ledger sees it): the first outcome, replayed; no new arm.
    const replayed = await send(WEB('web-1'), body);
    expect(replayed).toMatchObject({ ok: true, replayed: true });
    expect((await statusOf(WEB('web-1'))).armedSwitchover).toBeNull();
    // A fresh command of the consumed arm's remediation: its first outcome, replayed; no new arm.
    const again = await send(WEB('web-1'), command(WEB('web-1'), 'arm_switchover', { remediationId: armId }));
    expect(again).toMatchObject({ ok: true, replayed: true });
    expect((await statusOf(WEB('web-1'))).armedSwitchover).toBeNull();
    await readySpare();
    const web5 = await statusOf(WEB('web-5'));
    await expectNotSwitched(WEB('web-5'), await crash(WEB('web-5')), web5.port);
  });

  it('refuses an arm not signed by the executor (the decision’s key, say), for a target it does not run, or for a service without spares', async () => {
    const byDecision = await send(WEB('web-1'), command(WEB('web-1'), 'arm_switchover', { as: 'decision' }));
    expect(byDecision).toMatchObject({ ok: false, code: 'command_rejected' });
    // Signed by the executor for another tenant's service, sent on this agent's subject.
    const elsewhere = await send(WEB('web-1'), command(WEB('web-1'), 'arm_switchover', { body: { tenantId: 'other-tenant', service: 'web' } }));
    expect(elsewhere).toMatchObject({ ok: false, code: 'command_rejected' });
    const noSpares = await send(SOLO, command(SOLO, 'arm_switchover'));
    expect(noSpares).toMatchObject({ ok: false, code: 'unsupported_action' });
    expect((await statusOf(WEB('web-1'))).armedSwitchover).toBeNull();
    expect((await statusOf(SOLO)).armedSwitchover).toBeNull();

    await readySpare();
    const web6 = await statusOf(WEB('web-6'));
    await expectNotSwitched(WEB('web-6'), await crash(WEB('web-6')), web6.port);
  });

  it('keeps an arm across a restart of the agent, and does not use one past its expiry', async () => {
    const armId = newEventId();
    expect(await send(WEB('web-1'), command(WEB('web-1'), 'arm_switchover', { remediationId: armId, armTtlMs: 60_000 }))).toMatchObject({ ok: true });
    await agent.stop();
    agent = await start();
    await expectEventually(async () => expect((await statusOf(WEB('web-1'))).armedSwitchover).toMatchObject({ remediationId: armId }), { timeoutMs: 10_000 });
    const before = await statusOf(WEB('web-1'));
    await expectEventually(async () => expect((await healthz(before.port))?.pid).toBe(before.pid), { timeoutMs: 20_000 });
    await readySpare();

    // A minute and a second later for the agent: the arm has lapsed.
    offsetMs = 61_000;
    try {
      expect((await statusOf(WEB('web-1'))).armedSwitchover).toBeNull();
      await expectNotSwitched(WEB('web-1'), await crash(WEB('web-1')), before.port);
    } finally {
      offsetMs = 0;
    }
  });
});
