import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { agentCommandSubject, agentFailoverSubject, newEventId, type ActionParameters, type RemediationAction } from '@autoheal/contracts';
import { closeNats, connectNats, loadSigningMaterial } from '@autoheal/messaging';
import { generateSigningKey, signReply, verifyCommand, type SigningKey } from '@autoheal/security';
import { createTestKeys, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import { DriverError, DriverErrorCode } from './driver.errors.js';
import { NatsAgentDriver } from './nats-agent.driver.js';
import { parseTargetAgents } from './target-agents.js';

const keys = createTestKeys(['executor', 'decision', 'agent:demo-fleet', 'agent:other', 'agent:standby-eu']);
afterAll(() => keys.remove());

describe('NatsAgentDriver (real nats-server)', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let driver: NatsAgentDriver;
  const subs: Subscription[] = [];
  const target = (instance: string) => ({ tenantId: 'acme', service: 'api', instance });
  const agentKey = () => keys.key('agent:demo-fleet');
  const perform = (instance: string, remediationId: string, action: RemediationAction, parameters: ActionParameters = {}) =>
    driver.perform({ ...target(instance), remediationId, action, parameters, runtime: { kind: 'agent' } });
  const restart = (instance: string, remediationId: string) => perform(instance, remediationId, 'restart');

  /** A responder on the instance's subject answering with whatever `reply` returns (nothing: stays silent). */
  async function respond(instance: string, reply: (request: Record<string, unknown>) => unknown): Promise<void> {
    subs.push(
      nc.subscribe(agentCommandSubject('acme', 'api', instance), {
        callback: (_err, msg) => {
          const answer = reply(msg.json());
          if (answer !== undefined) msg.respond(typeof answer === 'string' ? answer : JSON.stringify(answer));
        },
      }),
    );
    await nc.flush();
  }

  /** A reply to `req` as agent `agentId` would sign it with `key`. */
  const signed = (key: SigningKey, req: Record<string, unknown>, body: Record<string, unknown>, agentId = 'demo-fleet') =>
    signReply(key, { remediationId: req.remediationId as string, commandId: req.commandId as string, agentId, signedAt: new Date().toISOString(), ok: true, ...body });
  const restarted = [{ verb: 'restarted', object: 'ok', detail: { pid: 321 } }];
  const success = { ok: true, action: 'restart', effects: restarted, completedAt: '2025-01-01T00:00:00.000Z', replayed: false };

  async function driverError(promise: Promise<unknown>): Promise<DriverError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof DriverError)) throw new Error(`expected a DriverError, got ${String(error)}`);
    return error;
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connectNats({ servers: nats.url, name: 'driver-test', onClosedForGood: () => undefined });
    const rules = parseTargetAgents('acme=demo-fleet,acme/api@eu-west-1=standby-eu');
    if (!rules.ok) throw new Error(rules.problems.join('; '));
    const signing = loadSigningMaterial({ keyFile: keys.env('executor').AUTOHEAL_SIGNING_KEY_FILE, trustFile: keys.trustFile }, 'executor');
    driver = new NatsAgentDriver(nc, { AGENT_TIMEOUT_MS: 300, EXECUTOR_COMMAND_TTL_MS: 30_000, EXECUTOR_TARGET_AGENTS: rules.rules }, signing, { now: () => new Date() });
  });

  afterAll(async () => {
    subs.forEach((s) => s.unsubscribe());
    await closeNats(nc);
    await nats.stop();
  });

  it('lists the actions the agent carries out: all of them', () => {
    expect([...driver.actions].sort()).toEqual(['arm_switchover', 'failover', 'replace', 'restart', 'rollback', 'scale_in', 'scale_out', 'throttle']);
  });

  describe('failover', () => {
    const routed = [{ verb: 'routed', object: 'api', detail: { toRegion: 'eu-west-1' } }];
    const failedOver = { ...success, action: 'failover', effects: routed };

    /** A responder on the failover subject of instance `instance` into `region`. */
    async function respondFailover(region: string, instance: string, reply: (request: Record<string, unknown>) => unknown): Promise<void> {
      subs.push(
        nc.subscribe(agentFailoverSubject(region, 'acme', 'api', instance), {
          callback: (_err, msg) => {
            const answer = reply(msg.json());
            if (answer !== undefined) msg.respond(JSON.stringify(answer));
          },
        }),
      );
      await nc.flush();
    }

    it('goes to the agent keeping the standby in toRegion, signed with the region, and takes that agent’s word only', async () => {
      const seen: Record<string, unknown>[] = [];
      const primary: string[] = [];
      subs.push(nc.subscribe(agentCommandSubject('acme', 'api', 'fo-1'), { callback: (_err, msg) => void primary.push(msg.subject) }));
      await respondFailover('eu-west-1', 'fo-1', (req) => {
        seen.push(req);
        return signed(keys.key('agent:standby-eu'), req, failedOver, 'standby-eu');
      });
      await expect(perform('fo-1', newEventId(), 'failover', { toRegion: 'eu-west-1' })).resolves.toMatchObject({ ok: true, effects: routed, details: { agentId: 'standby-eu' } });
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ tenantId: 'acme', service: 'api', instance: 'fo-1', action: 'failover', parameters: { toRegion: 'eu-west-1' } });
      expect(verifyCommand(keys.trust, seen[0], { now: new Date(), subjectTarget: target('fo-1'), runs: () => true, maxSkewMs: 5_000, maxLifetimeMs: 300_000 })).toEqual({ ok: true });
      await nc.flush();
      expect(primary).toEqual([]);
    });

    it('records a failover answered by the target’s own agent (not the standby’s) as unattributed', async () => {
      await respondFailover('eu-west-1', 'fo-2', (req) => signed(agentKey(), req, failedOver));
      const result = await perform('fo-2', newEventId(), 'failover', { toRegion: 'eu-west-1' });
      expect(result).toMatchObject({ ok: false, error: { code: 'unattributed_reply' }, unattributed: { reason: 'wrong_agent', expectedSigner: 'agent:standby-eu' } });
    });

    it('refuses a region no standby agent is registered for as unknown_target, and sends nothing', async () => {
      const heard: string[] = [];
      subs.push(nc.subscribe('agent.failover.>', { callback: (_err, msg) => void heard.push(msg.subject) }));
      await nc.flush();
      const result = await perform('fo-3', newEventId(), 'failover', { toRegion: 'us-east-1' });
      expect(result).toMatchObject({ ok: false, error: { code: 'unknown_target', message: expect.stringContaining('the standby of acme/api in us-east-1') as string } });
      await nc.flush();
      expect(heard).toEqual([]);
    });
  });

  it('sends a command the agent can verify as the executor’s, and returns the signed restart details', async () => {
    const seen: Record<string, unknown>[] = [];
    await respond('ok', (req) => {
      seen.push(req);
      return signed(agentKey(), req, success);
    });
    const remediationId = newEventId();
    await expect(restart('ok', remediationId)).resolves.toMatchObject({
      ok: true,
      effects: restarted,
      replayed: false,
      details: { action: 'restart', effects: restarted, completedAt: '2025-01-01T00:00:00.000Z', replayed: false, agentId: 'demo-fleet' },
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ remediationId, tenantId: 'acme', service: 'api', instance: 'ok', action: 'restart', parameters: {} });
    const expiresIn = Date.parse(seen[0].expiresAt as string) - Date.parse(seen[0].issuedAt as string);
    expect(expiresIn).toBe(30_000);
    const verdict = verifyCommand(keys.trust, seen[0], { now: new Date(), subjectTarget: target('ok'), runs: () => true, maxSkewMs: 5_000, maxLifetimeMs: 300_000 });
    expect(verdict).toEqual({ ok: true });
  });

  it('sends every action with the plan’s parameters, signed, and reports the agent’s effects as it states them', async () => {
    const seen: Record<string, unknown>[] = [];
    const effects = [
      { verb: 'started', object: 'replaced', detail: { pid: 9 } },
      { verb: 'stopped', object: 'replaced', detail: { pid: 8 } },
    ];
    await respond('replaced', (req) => {
      seen.push(req);
      return signed(agentKey(), req, { ...success, action: req.action, effects });
    });
    await expect(perform('replaced', newEventId(), 'replace')).resolves.toMatchObject({ ok: true, effects, replayed: false });
    await expect(perform('replaced', newEventId(), 'scale_out', { maxInstances: 4, scaleInAfterMs: 60_000 })).resolves.toMatchObject({ ok: true, effects });
    expect(seen.map((r) => [r.action, r.parameters])).toEqual([
      ['replace', {}],
      ['scale_out', { maxInstances: 4, scaleInAfterMs: 60_000 }],
    ]);
    for (const request of seen) {
      const verdict = verifyCommand(keys.trust, request, { now: new Date(), subjectTarget: target('replaced'), runs: () => true, maxSkewMs: 5_000, maxLifetimeMs: 300_000 });
      expect(verdict).toEqual({ ok: true });
    }
  });

  it('refuses a target no agent is registered for as unknown_target, and sends nothing', async () => {
    const heard: string[] = [];
    subs.push(nc.subscribe('agent.command.nobody.>', { callback: (_err, msg) => void heard.push(msg.subject) }));
    await nc.flush();
    const result = await driver.perform({ tenantId: 'nobody', service: 'api', instance: 'api-1', remediationId: newEventId(), action: 'restart', parameters: {}, runtime: { kind: 'agent' } });
    expect(result).toMatchObject({ ok: false, error: { code: 'unknown_target', message: expect.stringContaining('registers no agent for nobody/api/api-1') as string } });
    await nc.flush();
    expect(heard).toEqual([]);
  });

  it('returns the agent’s signed refusal as a failed result', async () => {
    await respond('refuses', (req) => signed(agentKey(), req, { ok: false, code: 'spawn_failed', message: 'ENOENT', action: undefined, effects: undefined, completedAt: undefined, replayed: undefined }));
    await expect(restart('refuses', newEventId())).resolves.toEqual({ ok: false, error: { code: 'spawn_failed', message: 'ENOENT' } });
  });

  it.each([
    ['unknown_instance', 'unknown_target'],
    ['unsupported_action', 'unsupported_action'],
    ['invalid_parameters', 'invalid_parameters'],
    ['at_capacity', 'at_capacity'],
  ])('maps the agent’s %s to the drivers’ %s', async (agentCode, driverCode) => {
    await respond(`refuses-${agentCode}`.replace(/_/g, '-'), (req) =>
      signed(agentKey(), req, { ok: false, code: agentCode, message: 'no', action: undefined, effects: undefined, completedAt: undefined, replayed: undefined }),
    );
    await expect(restart(`refuses-${agentCode}`.replace(/_/g, '-'), newEventId())).resolves.toEqual({ ok: false, error: { code: driverCode, message: 'no' } });
  });

  it.each([
    ['unsigned', 'rogue-unsigned', (req: Record<string, unknown>) => ({ ...success, remediationId: req.remediationId, commandId: req.commandId, agentId: 'demo-fleet', signedAt: new Date().toISOString() }), 'unsigned'],
    ['signed by an untrusted key', 'rogue-stranger', (req: Record<string, unknown>) => signed(generateSigningKey().key, req, success), 'unknown_key'],
    ['signed by another agent', 'rogue-other', (req: Record<string, unknown>) => signed(keys.key('agent:other'), req, success, 'other'), 'wrong_agent'],
    ['signed by another agent claiming to be the registered one', 'rogue-claims', (req: Record<string, unknown>) => signed(keys.key('agent:other'), req, success), 'wrong_agent'],
    ['signed by the decision service', 'rogue-decision', (req: Record<string, unknown>) => signed(keys.key('decision'), req, success), 'wrong_agent'],
    ['the agent’s signed answer with made-up effects', 'rogue-effects', (req: Record<string, unknown>) => ({ ...signed(agentKey(), req, success), effects: [{ verb: 'restarted', object: 'rogue-effects', detail: { pid: 1 } }] }), 'bad_signature'],
    ['the agent’s signed answer to another command', 'rogue-old', (req: Record<string, unknown>) => signed(agentKey(), { ...req, commandId: newEventId() }, success), 'mismatched_reply'],
    ['the agent’s signed answer about another remediation', 'confused', (req: Record<string, unknown>) => signed(agentKey(), { ...req, remediationId: newEventId() }, success), 'mismatched_reply'],
  ] as const)('never reports success for a reply %s: failed, unattributed_reply, with the security event’s facts', async (_name, instance, reply, reason) => {
    await respond(instance, reply);
    const remediationId = newEventId();
    const result = await restart(instance, remediationId);
    expect(result).toMatchObject({ ok: false, error: { code: 'unattributed_reply' }, unattributed: { reason, remediationId, instance, expectedSigner: 'agent:demo-fleet' } });
  });

  it.each([
    ['nobody listens', 'absent', undefined, DriverErrorCode.Unreachable],
    ['the agent stays silent', 'silent', () => undefined, DriverErrorCode.Timeout],
    ['the reply is not JSON', 'garbled', () => 'restarted!', DriverErrorCode.InvalidReply],
    ['the agent’s signed reply breaks the contract', 'odd', (req: Record<string, unknown>) => signed(agentKey(), req, { effects: [] }), DriverErrorCode.InvalidReply],
    ['the agent’s signed reply is about another action', 'other-action', (req: Record<string, unknown>) => signed(agentKey(), req, { action: 'replace' }), DriverErrorCode.InvalidReply],
  ] as const)('throws a DriverError when %s', async (_name, instance, reply, code) => {
    if (reply) await respond(instance, reply);
    expect((await driverError(restart(instance, newEventId()))).code).toBe(code);
  });
});
