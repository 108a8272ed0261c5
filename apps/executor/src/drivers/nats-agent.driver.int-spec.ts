import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { agentRestartSubject, newEventId } from '@autoheal/contracts';
import { closeNats, connectNats, loadSigningMaterial } from '@autoheal/messaging';
import { generateSigningKey, signReply, verifyCommand, type SigningKey } from '@autoheal/security';
import { createTestKeys, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import { DriverError, DriverErrorCode } from './driver.errors.js';
import { NatsAgentDriver } from './nats-agent.driver.js';
import { parseTargetAgents } from './target-agents.js';

const keys = createTestKeys(['executor', 'decision', 'agent:demo-fleet', 'agent:other']);
afterAll(() => keys.remove());

describe('NatsAgentDriver (real nats-server)', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let driver: NatsAgentDriver;
  const subs: Subscription[] = [];
  const target = (instance: string) => ({ tenantId: 'acme', service: 'api', instance });
  const agentKey = () => keys.key('agent:demo-fleet');
  const restart = (instance: string, remediationId: string) =>
    driver.perform({ ...target(instance), remediationId, action: 'restart', parameters: {}, runtime: { kind: 'agent' } });

  /** A responder on the instance's subject answering with whatever `reply` returns (nothing: stays silent). */
  async function respond(instance: string, reply: (request: Record<string, unknown>) => unknown): Promise<void> {
    subs.push(
      nc.subscribe(agentRestartSubject('acme', 'api', instance), {
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
  const success = { ok: true, pid: 321, restartedAt: '2025-01-01T00:00:00.000Z', replayed: false };

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
    const rules = parseTargetAgents('*=demo-fleet');
    if (!rules.ok) throw new Error(rules.problems.join('; '));
    const signing = loadSigningMaterial({ keyFile: keys.env('executor').AUTOHEAL_SIGNING_KEY_FILE, trustFile: keys.trustFile }, 'executor');
    driver = new NatsAgentDriver(nc, { AGENT_TIMEOUT_MS: 300, EXECUTOR_COMMAND_TTL_MS: 30_000, EXECUTOR_TARGET_AGENTS: rules.rules }, signing, { now: () => new Date() });
  });

  afterAll(async () => {
    subs.forEach((s) => s.unsubscribe());
    await closeNats(nc);
    await nats.stop();
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
      effects: [{ verb: 'restarted', object: 'ok', detail: { pid: 321 } }],
      replayed: false,
      details: { pid: 321, restartedAt: '2025-01-01T00:00:00.000Z', replayed: false, agentId: 'demo-fleet' },
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ remediationId, tenantId: 'acme', service: 'api', instance: 'ok', action: 'restart', parameters: {} });
    const expiresIn = Date.parse(seen[0].expiresAt as string) - Date.parse(seen[0].issuedAt as string);
    expect(expiresIn).toBe(30_000);
    const verdict = verifyCommand(keys.trust, seen[0], { now: new Date(), subjectTarget: target('ok'), runs: () => true, maxSkewMs: 5_000, maxLifetimeMs: 300_000 });
    expect(verdict).toEqual({ ok: true });
  });

  it('returns the agent’s signed refusal as a failed result', async () => {
    await respond('refuses', (req) => signed(agentKey(), req, { ok: false, code: 'spawn_failed', message: 'ENOENT', pid: undefined, restartedAt: undefined, replayed: undefined }));
    await expect(restart('refuses', newEventId())).resolves.toEqual({ ok: false, error: { code: 'spawn_failed', message: 'ENOENT' } });
  });

  it.each([
    ['unsigned', 'rogue-unsigned', (req: Record<string, unknown>) => ({ ...success, remediationId: req.remediationId, commandId: req.commandId, agentId: 'demo-fleet', signedAt: new Date().toISOString() }), 'unsigned'],
    ['signed by an untrusted key', 'rogue-stranger', (req: Record<string, unknown>) => signed(generateSigningKey().key, req, success), 'unknown_key'],
    ['signed by another agent', 'rogue-other', (req: Record<string, unknown>) => signed(keys.key('agent:other'), req, success, 'other'), 'wrong_agent'],
    ['signed by another agent claiming to be the registered one', 'rogue-claims', (req: Record<string, unknown>) => signed(keys.key('agent:other'), req, success), 'wrong_agent'],
    ['signed by the decision service', 'rogue-decision', (req: Record<string, unknown>) => signed(keys.key('decision'), req, success), 'wrong_agent'],
    ['the agent’s signed answer with a made-up pid', 'rogue-pid', (req: Record<string, unknown>) => ({ ...signed(agentKey(), req, success), pid: 1 }), 'bad_signature'],
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
    ['the agent’s signed reply breaks the contract', 'odd', (req: Record<string, unknown>) => signed(agentKey(), req, { pid: undefined }), DriverErrorCode.InvalidReply],
  ] as const)('throws a DriverError when %s', async (_name, instance, reply, code) => {
    if (reply) await respond(instance, reply);
    expect((await driverError(restart(instance, newEventId()))).code).toBe(code);
  });
});
