import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { AGENT_CHAOS_SUBJECT, AGENT_STATUS_SUBJECT, agentCommandReply, agentCommandSubject, newEventId, type AgentCommandReply, type Envelope, type RemediationAction } from '@autoheal/contracts';
import { signCommand, verifyReply } from '@autoheal/security';
import { createTestKeys, expectEventually, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import type { InstanceRef } from './config/agent-config.js';
import type { InstanceChange, InstanceStatus } from './supervisor/managed-instance.js';
import { startAgent, type RunningAgent } from './agent.js';
import { API_SERVER_ENTRY, apiServerService } from './test-support/api-server-service.js';

// `web` keeps one warm spare; `solo` has a front but no spare (warmSpares: 0).
const services = [
  apiServerService('acme-health', 'web', ['web-1', 'web-2', 'web-3'], { warmSpares: 1, releases: [{ version: 'v1' }, { version: 'v2' }] }),
  apiServerService('acme-health', 'solo', ['solo-1'], { warmSpares: 0 }),
];
const keys = createTestKeys();
afterAll(() => keys.remove());

const WEB = (instance: string): InstanceRef => ({ tenantId: 'acme-health', service: 'web', instance });
const SOLO: InstanceRef = { tenantId: 'acme-health', service: 'solo', instance: 'solo-1' };

describe('warm spares: an instance front switched to a ready spare, with real api-server processes and a real nats-server', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let stateDir: string;
  let agent: RunningAgent;
  const changes: InstanceChange[] = [];
  /** Every health subject a message was published on, with the envelope, in order. */
  const health: { subject: string; event: Envelope }[] = [];

  async function statusOf(ref: InstanceRef): Promise<InstanceStatus> {
    const all = (await nc.request(AGENT_STATUS_SUBJECT, '', { timeout: 5_000 })).json<InstanceStatus[]>();
    const found = all.find((s) => s.service === ref.service && s.instance === ref.instance);
    if (!found) throw new Error(`${ref.instance} missing from agent.status: ${JSON.stringify(all)}`);
    return found;
  }

  async function send(ref: InstanceRef, action: RemediationAction, remediationId = newEventId()): Promise<AgentCommandReply> {
    const now = Date.now();
    const command = signCommand(keys.key('executor'), {
      commandId: newEventId(),
      remediationId,
      ...ref,
      action,
      parameters: {},
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

  /** The web service's spare pool now. */
  const webSpares = () => agent.supervisor.spareStatus().find((p) => p.service === 'web')?.spares ?? [];

  async function readySpare(): Promise<{ pid: number; port: number }> {
    let spare: { pid: number; port: number } | undefined;
    await expectEventually(
      () => {
        const spares = webSpares();
        spare = spares.find((s) => s.ready);
        if (!spare || spares.length !== 1) throw new Error(`want one ready spare, pool is ${JSON.stringify(spares)}`);
      },
      { timeoutMs: 15_000 },
    );
    return spare!;
  }

  const changesOf = (remediationId: string) => changes.filter((c) => c.remediationId === remediationId).map((c) => [c.verb, c.ref.instance]);

  beforeAll(async () => {
    if (!existsSync(API_SERVER_ENTRY)) {
      throw new Error(`${API_SERVER_ENTRY} is missing: build first (npx tsc -b apps/demo-fleet)`);
    }
    process.env.TRAFFIC_RPS = '0';
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    await (await jetstreamManager(nc)).streams.add({ name: 'HEALTH', subjects: ['health.>'] });
    nc.subscribe('health.>', {
      callback: (error, msg) => {
        if (!error) health.push({ subject: msg.subject, event: msg.json<Envelope>() });
      },
    });
    stateDir = mkdtempSync(join(tmpdir(), 'autoheal-agent-spares-'));
    agent = await startAgent({
      natsUrl: server.url,
      services,
      stateDir,
      readyTimeoutMs: 15_000,
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

  it('serves each fronted instance on its front port from a process on a private port, and keeps a silent spare of the current release', async () => {
    const web1 = await statusOf(WEB('web-1'));
    expect(web1.processPort).toEqual(expect.any(Number));
    expect(web1.processPort).not.toBe(web1.port);
    expect(await healthz(web1.port)).toMatchObject({ pid: web1.pid, instance: 'web-1', release: 'v2' });
    const spare = await readySpare();
    expect(await healthz(spare.port)).toMatchObject({ pid: spare.pid, release: 'v2' });
    expect(await statusOf(WEB('web-1'))).toMatchObject({ sparesReady: 1 });
    expect((await statusOf(SOLO)).sparesReady).toBe(0);
    await expectEventually(() => expect(health.some((h) => h.subject === 'health.acme-health.web.web-1')).toBe(true), { timeoutMs: 10_000 });
    // A spare is nobody: it reports no health of its own.
    expect(health.filter((h) => h.subject.includes('spare')).map((h) => h.subject)).toEqual([]);
  });

  it('heals a crashed instance by switching its front to the spare, then refills the pool', async () => {
    const before = await statusOf(WEB('web-1'));
    const spare = await readySpare();
    await nc.request(AGENT_CHAOS_SUBJECT, JSON.stringify({ action: 'kill', ...WEB('web-1') }), { timeout: 5_000 });
    await expectEventually(async () => expect((await statusOf(WEB('web-1'))).state).toBe('exited'), { timeoutMs: 10_000 });
    expect(await healthz(before.port)).toBeNull();

    const remediationId = newEventId();
    const reply = await send(WEB('web-1'), 'restart', remediationId);
    expect(reply).toMatchObject({ ok: true, effects: [{ verb: 'routed', object: 'web-1', detail: { to: { pid: spare.pid, port: spare.port }, previousPid: null } }] });
    expect(changesOf(remediationId)).toEqual([['routed', 'web-1']]);
    const after = await statusOf(WEB('web-1'));
    expect(after).toMatchObject({ pid: spare.pid, port: before.port, processPort: spare.port, state: 'running', restarts: 1, lastRestartRemediationId: remediationId });
    // The front port answers again, from the promoted spare, which now says it is web-1 …
    expect(await healthz(before.port)).toMatchObject({ pid: spare.pid, instance: 'web-1' });
    // … and reports web-1's health.
    const seen = health.length;
    await expectEventually(() => expect(health.slice(seen).some((h) => h.subject === 'health.acme-health.web.web-1' && h.event.type === 'health.heartbeat')).toBe(true), {
      timeoutMs: 10_000,
    });
    const refilled = await readySpare();
    expect(refilled.pid).not.toBe(spare.pid);
  });

  it('heals a hung instance likewise: the hung process is SIGKILLed and the connections piped to it are closed', async () => {
    const before = await statusOf(WEB('web-2'));
    const spare = await readySpare();
    // A connection opened through the front, to the process about to hang.
    const socket: Socket = connectTcp({ host: '127.0.0.1', port: before.port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    await nc.request(AGENT_CHAOS_SUBJECT, JSON.stringify({ action: 'hang', ...WEB('web-2') }), { timeout: 5_000 });
    expect(await healthz(before.port)).toBeNull();

    const reply = await send(WEB('web-2'), 'restart');
    expect(reply).toMatchObject({
      ok: true,
      effects: [
        { verb: 'routed', object: 'web-2', detail: { to: { pid: spare.pid, port: spare.port }, previousPid: before.pid } },
        { verb: 'stopped', object: 'web-2', detail: { pid: before.pid } },
      ],
    });
    await socketClosed;
    expect(isAlive(before.pid!)).toBe(false);
    expect(await healthz(before.port)).toMatchObject({ pid: spare.pid, instance: 'web-2' });
    expect(await statusOf(WEB('web-2'))).toMatchObject({ pid: spare.pid, state: 'running', port: before.port });
    await readySpare();
  });

  it('switches once for one remediation id: asked again, the first reply is replayed and the new spare stays in the pool', async () => {
    const spare = await readySpare();
    const before = await statusOf(WEB('web-3'));
    const remediationId = newEventId();
    const first = await send(WEB('web-3'), 'replace', remediationId);
    expect(first).toMatchObject({ ok: true, effects: [{ verb: 'routed', detail: { to: { pid: spare.pid } } }, { verb: 'stopped', detail: { pid: before.pid } }] });
    const refilled = await readySpare();
    const again = await send(WEB('web-3'), 'replace', remediationId);
    expect(again).toMatchObject({ ok: true, replayed: true, effects: first.ok ? first.effects : [] });
    expect(changesOf(remediationId)).toEqual([
      ['routed', 'web-3'],
      ['stopped', 'web-3'],
    ]);
    expect(webSpares()).toEqual([expect.objectContaining({ pid: refilled.pid, ready: true })]);
    expect(await statusOf(WEB('web-3'))).toMatchObject({ pid: spare.pid, restarts: 1 });
  });

  it('restarts as before behind the front when the service keeps no spare', async () => {
    const before = await statusOf(SOLO);
    await nc.request(AGENT_CHAOS_SUBJECT, JSON.stringify({ action: 'kill', ...SOLO }), { timeout: 5_000 });
    await expectEventually(async () => expect((await statusOf(SOLO)).state).toBe('exited'), { timeoutMs: 10_000 });
    const reply = await send(SOLO, 'restart');
    expect(reply).toMatchObject({ ok: true, effects: [{ verb: 'restarted', object: 'solo-1', detail: { previousPid: null } }] });
    const after = await statusOf(SOLO);
    expect(after).toMatchObject({ port: before.port, processPort: before.processPort, state: 'running' });
    expect(after.pid).not.toBe(before.pid);
    expect(await healthz(before.port)).toMatchObject({ pid: after.pid, instance: 'solo-1' });
  });
});
