import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  AGENT_STATUS_SUBJECT,
  agentCommandReply,
  agentCommandSubject,
  agentFailoverSubject,
  newEventId,
  type ActionParameters,
  type AgentCommandReply,
  type RemediationAction,
} from '@autoheal/contracts';
import { signCommand, verifyReply, type Identity } from '@autoheal/security';
import { createTestKeys, expectEventually, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import type { InstanceChange, InstanceStatus } from './supervisor/managed-instance.js';
import { startAgent, type RunningAgent } from './agent.js';
import { API_SERVER_ENTRY, apiServerService } from './test-support/api-server-service.js';

// A host in eu-west-1 keeping the standbys of services whose primaries run elsewhere: `api` cold
// (started on failover), traffic moved by an HTTP call to a switch the test runs; `jobs` warm
// (running from boot), traffic moved by a command; `web` cold, for the refusals (it must stay down).
// Standby instances bear the names of the primary's instances they stand in for.
const REGION = 'eu-west-1';
const TENANT = 'acme';
const keys = createTestKeys(['executor', 'decision', 'agent:standby-eu']);
afterAll(() => keys.remove());

describe('failover on the host agent keeping the standby (real processes, real nats-server)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let stateDir: string;
  let agent: RunningAgent;
  let trafficSwitch: Server;
  /** What the traffic switch was asked, and what it answers next. */
  const switched: Record<string, unknown>[] = [];
  let switchStatus = 200;
  const changes: InstanceChange[] = [];
  /** Subjects of the health events seen. */
  const health: string[] = [];
  let hookFile: string;

  const changesOf = (remediationId: string) => changes.filter((c) => c.remediationId === remediationId).map((c) => [c.verb, c.object ?? c.ref.instance]);

  async function status(): Promise<InstanceStatus[]> {
    return (await nc.request(AGENT_STATUS_SUBJECT, '', { timeout: 5_000 })).json<InstanceStatus[]>();
  }

  async function healthzPid(port: number): Promise<number | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(500) });
      return res.status === 200 ? ((await res.json()) as { pid: number }).pid : null;
    } catch {
      return null;
    }
  }

  /** A command signed by `signer`, sent on `subject`; the reply, checked to be the standby agent's own for this command. */
  async function send(
    subject: string,
    over: { service?: string; instance?: string; action?: RemediationAction; parameters?: ActionParameters; remediationId?: string; signer?: Identity } = {},
  ): Promise<AgentCommandReply> {
    const now = Date.now();
    const remediationId = over.remediationId ?? newEventId();
    const command = signCommand(keys.key(over.signer ?? 'executor'), {
      commandId: newEventId(),
      remediationId,
      tenantId: TENANT,
      service: over.service ?? 'api',
      instance: over.instance ?? 'api-1',
      action: over.action ?? 'failover',
      parameters: over.parameters ?? { toRegion: REGION },
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 30_000).toISOString(),
    });
    const reply = agentCommandReply.parse((await nc.request(subject, JSON.stringify(command), { timeout: 30_000 })).json());
    expect(verifyReply(keys.trust, reply, { identity: 'agent:standby-eu', remediationId, commandId: command.commandId }, new Date())).toEqual({ ok: true });
    return reply;
  }

  const failoverOf = (service: string, instance: string, region = REGION) => agentFailoverSubject(region, TENANT, service, instance);

  beforeAll(async () => {
    if (!existsSync(API_SERVER_ENTRY)) throw new Error(`${API_SERVER_ENTRY} is missing: build first (npx tsc -b apps/demo-fleet)`);
    process.env.TRAFFIC_RPS = '0';
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    nc.subscribe('health.>', { callback: (error, msg) => void (error ? undefined : health.push(msg.subject)) });
    stateDir = mkdtempSync(join(tmpdir(), 'autoheal-agent-failover-'));
    hookFile = join(stateDir, 'moved.txt');
    trafficSwitch = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        switched.push({ method: req.method, path: req.url, ...(JSON.parse(body) as Record<string, unknown>) });
        res.writeHead(switchStatus).end(switchStatus === 200 ? '{"ok":true}' : '{"error":"switch refuses"}');
      });
    });
    await new Promise<void>((resolve) => trafficSwitch.listen(0, '127.0.0.1', resolve));
    const switchUrl = `http://127.0.0.1:${(trafficSwitch.address() as AddressInfo).port}/routes`;
    agent = await startAgent({
      natsUrl: server.url,
      region: REGION,
      services: [
        apiServerService(TENANT, 'api', ['api-1', 'api-2'], { standby: { mode: 'cold', traffic: { kind: 'http', url: switchUrl } } }),
        apiServerService(TENANT, 'jobs', ['jobs-1'], {
          standby: { mode: 'warm', traffic: { kind: 'command', command: ['/bin/sh', '-c', `echo "$AUTOHEAL_FAILOVER_REGION $AUTOHEAL_FAILOVER_INSTANCES" > ${hookFile}`] } },
        }),
        apiServerService(TENANT, 'web', ['web-1'], { standby: { mode: 'cold', traffic: { kind: 'http', url: switchUrl } } }),
      ],
      stateDir,
      readyTimeoutMs: 15_000,
      logger: pino({ level: 'silent' }),
      childStdio: 'ignore',
      signing: { agentId: 'standby-eu', key: keys.key('agent:standby-eu'), trust: keys.trust },
      onChange: (change) => changes.push(change),
    });
  });

  afterAll(async () => {
    await agent?.stop();
    await nc?.close();
    await server?.stop();
    await new Promise((resolve) => trafficSwitch?.close(resolve));
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('keeps a cold standby down (silent) and a warm one running until a failover', async () => {
    const byName = new Map((await status()).map((s) => [s.instance, s]));
    expect(byName.get('api-1')).toMatchObject({ state: 'exited', pid: null });
    expect(byName.get('web-1')).toMatchObject({ state: 'exited', pid: null });
    const warm = byName.get('jobs-1')!;
    await expectEventually(async () => expect(await healthzPid(warm.port)).toBe(warm.pid), { timeoutMs: 15_000 });
    expect(health.filter((subject) => subject.startsWith(`health.${TENANT}.web.`) || subject.startsWith(`health.${TENANT}.api.`))).toEqual([]);
  });

  it('refuses a failover into another region than its own, and does nothing (attack: a genuine command sent to the wrong region)', async () => {
    // Signed by the executor, but for us-east-1, replayed onto this region's subject.
    const reply = await send(failoverOf('web', 'web-1'), { service: 'web', instance: 'web-1', parameters: { toRegion: 'us-east-1' } });
    expect(reply).toMatchObject({ ok: false, code: 'command_rejected', message: expect.stringMatching(/^region_mismatch: /) as string });
    // And no agent takes us-east-1's failovers here: this host listens on its own region only.
    await expect(nc.request(failoverOf('web', 'web-1', 'us-east-1'), '{}', { timeout: 2_000 })).rejects.toThrow(/503|no responders/i);
    expect((await status()).find((s) => s.instance === 'web-1')).toMatchObject({ state: 'exited', pid: null });
    expect(changes.filter((c) => c.ref.service === 'web')).toEqual([]);
    expect(switched).toEqual([]);
  });

  it('refuses anything but a failover on a failover subject, and a failover the executor did not sign, doing nothing', async () => {
    const restart = await send(failoverOf('web', 'web-1'), { service: 'web', instance: 'web-1', action: 'restart', parameters: {} });
    expect(restart).toMatchObject({ ok: false, code: 'command_rejected', message: expect.stringMatching(/^wrong_subject: /) as string });
    const forged = await send(failoverOf('web', 'web-1'), { service: 'web', instance: 'web-1', signer: 'decision' });
    expect(forged).toMatchObject({ ok: false, code: 'command_rejected', message: expect.stringMatching(/^not_entitled: /) as string });
    // Signed for another target than the subject names.
    const moved = await send(failoverOf('web', 'web-1'), { service: 'api', instance: 'api-1' });
    expect(moved).toMatchObject({ ok: false, code: 'command_rejected', message: expect.stringMatching(/^target_mismatch: /) as string });
    expect((await status()).find((s) => s.instance === 'web-1')).toMatchObject({ state: 'exited' });
    expect(changes.filter((c) => c.ref.service === 'web')).toEqual([]);
    expect(switched).toEqual([]);
  });

  it('takes no commands on its standby instances’ names: those are the primary agent’s', async () => {
    await expect(nc.request(agentCommandSubject(TENANT, 'web', 'web-1'), '{}', { timeout: 2_000 })).rejects.toThrow(/503|no responders/i);
    expect(changes.filter((c) => c.ref.service === 'web')).toEqual([]);
  });

  it('reports traffic_not_moved when the switch refuses, keeps the started standby, and does it on a retry without starting it again', async () => {
    switchStatus = 503;
    const remediationId = newEventId();
    const refused = await send(failoverOf('api', 'api-1'), { remediationId });
    expect(refused).toMatchObject({ ok: false, code: 'traffic_not_moved', message: expect.stringContaining('answered 503') as string });
    expect(changesOf(remediationId)).toEqual([
      ['started', 'api-1'],
      ['started', 'api-2'],
    ]);
    const started = (await status()).filter((s) => s.service === 'api');
    expect(started.every((s) => s.state === 'running')).toBe(true);
    // Traffic did not move: the standby stays silent, so the lost instances' incidents stay open.
    expect(health.filter((subject) => subject.startsWith(`health.${TENANT}.api.`))).toEqual([]);

    // The executor retries the same remediation: failures are not remembered, so it really runs again.
    switchStatus = 200;
    const reply = await send(failoverOf('api', 'api-1'), { remediationId });
    expect(reply).toMatchObject({
      ok: true,
      action: 'failover',
      replayed: false,
      effects: [{ verb: 'routed', object: 'api', detail: { toRegion: REGION, from: 'api-1', via: 'http' } }, { verb: 'promoted', object: 'api-1' }, { verb: 'promoted', object: 'api-2' }],
    });
    const again = (await status()).filter((s) => s.service === 'api');
    expect(again.map((s) => s.pid)).toEqual(started.map((s) => s.pid));
    for (const s of again) expect(await healthzPid(s.port)).toBe(s.pid);
    expect(switched.at(-1)).toEqual({
      method: 'POST',
      path: '/routes',
      tenantId: TENANT,
      service: 'api',
      region: REGION,
      remediationId,
      instances: again.map((s) => ({ instance: s.instance, port: s.port })),
    });
    expect(changesOf(remediationId)).toEqual([
      ['started', 'api-1'],
      ['started', 'api-2'],
      ['routed', 'api'],
      ['promoted', 'api-1'],
      ['promoted', 'api-2'],
    ]);
    await expectEventually(() => expect(health).toEqual(expect.arrayContaining([`health.${TENANT}.api.api-1`, `health.${TENANT}.api.api-2`])), { timeoutMs: 15_000 });
  });

  it('fails a cold standby over once per remediation: ready instances, traffic moved, a repeat replayed', async () => {
    const remediationId = newEventId();
    const reply = await send(failoverOf('web', 'web-2'), { service: 'web', instance: 'web-2', remediationId });
    expect(reply).toMatchObject({ ok: true, replayed: false, effects: [{ verb: 'started', object: 'web-1' }, { verb: 'routed', object: 'web' }, { verb: 'promoted', object: 'web-1' }] });
    const web = (await status()).find((s) => s.instance === 'web-1')!;
    expect(await healthzPid(web.port)).toBe(web.pid);
    // The heartbeats the detector misses from the lost web-1 come back, from this region.
    await expectEventually(() => expect(health).toContain(`health.${TENANT}.web.web-1`), { timeoutMs: 15_000 });
    const calls = switched.length;

    const repeat = await send(failoverOf('web', 'web-2'), { service: 'web', instance: 'web-2', remediationId });
    expect(repeat).toMatchObject({ ok: true, replayed: true, effects: reply.ok ? reply.effects : [] });
    expect(switched.length).toBe(calls);
    expect(changesOf(remediationId)).toEqual([
      ['started', 'web-1'],
      ['routed', 'web'],
      ['promoted', 'web-1'],
    ]);
    expect((await status()).find((s) => s.instance === 'web-1')?.pid).toBe(web.pid);
  });

  it('fails a warm standby over without starting anything, moving traffic by the configured command, then promoting it', async () => {
    const before = (await status()).find((s) => s.instance === 'jobs-1')!;
    // Running, but silent: it bears the primary's name, whose missing heartbeats it must not mask.
    expect(health.filter((subject) => subject.startsWith(`health.${TENANT}.jobs.`))).toEqual([]);
    const remediationId = newEventId();
    const reply = await send(failoverOf('jobs', 'jobs-1'), { service: 'jobs', instance: 'jobs-1', remediationId });
    expect(reply).toMatchObject({ ok: true, effects: [{ verb: 'routed', object: 'jobs', detail: { via: 'command' } }, { verb: 'promoted', object: 'jobs-1' }] });
    expect(readFileSync(hookFile, 'utf8').trim()).toBe(`${REGION} jobs-1:${before.port}`);
    expect((await status()).find((s) => s.instance === 'jobs-1')?.pid).toBe(before.pid);
    expect(changesOf(remediationId)).toEqual([
      ['routed', 'jobs'],
      ['promoted', 'jobs-1'],
    ]);
    await expectEventually(() => expect(health).toContain(`health.${TENANT}.jobs.jobs-1`), { timeoutMs: 15_000 });
  });

  it('refuses a failover that names no region as invalid_parameters', async () => {
    const reply = await send(failoverOf('api', 'api-1'), { service: 'api', instance: 'api-1', parameters: {} });
    expect(reply).toMatchObject({ ok: false, code: 'invalid_parameters', message: 'failover needs parameters.toRegion' });
  });
});
