import pino from 'pino';
import { agentCommandSubject, agentFailoverSubject, agentService, newEventId } from '@autoheal/contracts';
import { generateSigningKey, parseTrustStore, publicKeyToBase64, signCommand, type CommandContent, type SigningKey } from '@autoheal/security';
import { FleetSupervisor } from '../supervisor/fleet-supervisor.js';
import { OutcomeStore } from './outcome-store.js';
import { SwitchoverArms } from './switchover-arms.js';
import { CommandService, commandOutcome, isFinalOutcome, NIL_UUID, type CommandOutcome } from './command.service.js';

// The request checks that happen before any process is touched. The actions themselves run real
// processes and are covered by agent.int-spec.ts and the agent driver's conformance spec.
describe('CommandService request validation', () => {
  const remediationId = '0190a5b4-7c1e-7a3b-9c2d-1e2f3a4b5c6d';
  const target = { tenantId: 'acme-health', service: 'patient-api', instance: 'patient-api-1' };
  const executor = generateSigningKey().key;
  const decision = generateSigningKey().key;
  const trust = parseTrustStore({
    keys: [
      { keyId: executor.keyId, identity: 'executor', publicKey: publicKeyToBase64(executor.publicKey) },
      { keyId: decision.keyId, identity: 'decision', publicKey: publicKeyToBase64(decision.publicKey) },
    ],
  });
  const NOW = Date.parse('2026-03-01T12:00:00.000Z');
  let service: CommandService;
  let launches: number;

  const command = (over: Partial<CommandContent> = {}, key: SigningKey = executor) =>
    signCommand(key, {
      commandId: newEventId(NOW),
      remediationId,
      ...target,
      action: 'restart',
      parameters: {},
      issuedAt: new Date(NOW - 1_000).toISOString(),
      expiresAt: new Date(NOW + 29_000).toISOString(),
      ...over,
    });

  beforeEach(async () => {
    launches = 0;
    const logger = pino({ level: 'silent' });
    const supervisor = await FleetSupervisor.create({
      services: [agentService.parse({ tenantId: target.tenantId, service: target.service, instances: [{ name: target.instance, port: 4100 }], command: ['api-server'] })],
      launch: () => {
        launches += 1;
        throw new Error('spawn ENOENT');
      },
      logger,
    });
    const outcomes = await OutcomeStore.open<CommandOutcome>({ load: () => Promise.resolve([]), save: () => Promise.resolve() }, { keep: isFinalOutcome });
    service = new CommandService({
      supervisor,
      outcomes,
      clock: { now: () => new Date(NOW) },
      readyTimeoutMs: 1000,
      ackTimeoutMs: 1000,
      logger,
      arms: await SwitchoverArms.open({ load: () => Promise.resolve([]), save: () => Promise.resolve() }, logger),
      commands: { trust, maxSkewMs: 5_000, maxLifetimeMs: 300_000 },
    });
  });

  const subject = agentCommandSubject(target.tenantId, target.service, target.instance);

  it.each([
    ['a body that is not an object', undefined, NIL_UUID],
    ['a missing remediation id', { ...target }, NIL_UUID],
    ['a remediation id that is not a UUID', { ...command(), remediationId: 'r-1' }, NIL_UUID],
    ['a tenant with a dot', { ...command(), tenantId: 'acme.health' }, remediationId],
    ['an unknown field', { ...command(), force: true }, remediationId],
    ['an unknown action', { ...command(), action: 'reboot' }, remediationId],
    ['an unknown parameter', { ...command(), parameters: { drain: false } }, remediationId],
    ['a parameter of the wrong type', { ...command(), parameters: { maxInstances: 'many' } }, remediationId],
  ])('answers invalid_request for %s', async (_name, body, expectedId) => {
    const { outcome } = await service.handle(subject, body);
    expect(outcome).toMatchObject({ ok: false, code: 'invalid_request', remediationId: expectedId });
    expect(commandOutcome.safeParse(outcome).success).toBe(true);
    expect(launches).toBe(0);
  });

  it.each([
    ['unsigned', () => ({ ...command(), signature: undefined, keyId: undefined }), /^unsigned/],
    ['signed by the decision service', () => command({}, decision), /^not_entitled/],
    ['signed by a stranger', () => command({}, generateSigningKey().key), /^unknown_key/],
    ['altered after signing (other instance in the body)', () => ({ ...command(), instance: 'patient-api-2' }), /^bad_signature/],
    ['naming another instance than the subject', () => command({ instance: 'patient-api-2' }), /^target_mismatch/],
    ['expired', () => command({ issuedAt: new Date(NOW - 60_000).toISOString(), expiresAt: new Date(NOW - 30_000).toISOString() }), /^expired/],
  ])('refuses a command %s and touches nothing', async (_name, body, message) => {
    const { outcome } = await service.handle(subject, body());
    expect(outcome).toMatchObject({ ok: false, code: 'command_rejected', remediationId });
    if (outcome.ok) throw new Error('unreachable');
    expect(outcome.message).toMatch(message);
    expect(launches).toBe(0);
  });

  it('refuses a second command for a remediation that asks for something else (replay), before anything is done', async () => {
    await service.handle(subject, command());
    const before = launches;
    const { outcome } = await service.handle(subject, command({ action: 'replace' }));
    expect(outcome).toMatchObject({ ok: false, code: 'command_rejected' });
    if (outcome.ok) throw new Error('unreachable');
    expect(outcome.message).toMatch(/^replayed/);
    expect(launches).toBe(before);
  });

  it('answers unknown_instance for an instance this agent does not run', async () => {
    const other = { tenantId: 'acme-health', service: 'patient-api', instance: 'patient-api-9' };
    const { outcome } = await service.handle(agentCommandSubject(other.tenantId, other.service, other.instance), command(other));
    expect(outcome).toMatchObject({ ok: false, code: 'unknown_instance', remediationId });
    expect(launches).toBe(0);
  });

  it('answers unsupported_action for a failover on an instance’s own command subject: the agent keeping the standby takes it', async () => {
    const { outcome } = await service.handle(subject, command({ action: 'failover', parameters: { toRegion: 'eu-west-1' } }));
    expect(outcome).toMatchObject({ ok: false, code: 'unsupported_action', remediationId });
    expect(launches).toBe(0);
  });

  it('refuses a failover into a region it is not in (it has none here), touching nothing', async () => {
    const failoverSubject = agentFailoverSubject('eu-west-1', target.tenantId, target.service, target.instance);
    const { outcome } = await service.handle(failoverSubject, command({ action: 'failover', parameters: { toRegion: 'eu-west-1' } }));
    expect(outcome).toMatchObject({ ok: false, code: 'command_rejected', remediationId, message: expect.stringMatching(/^region_mismatch: this agent is in no region/) as string });
    expect(launches).toBe(0);
  });

  it.each([
    ['rollback without toRelease', 'rollback', {}, /parameters\.toRelease/],
    ['scale_out without maxInstances', 'scale_out', { scaleInAfterMs: 60_000 }, /parameters\.maxInstances/],
    ['throttle without ttlMs', 'throttle', { limitPerSecond: 5 }, /parameters\.ttlMs/],
    ['rollback to a release the service does not have', 'rollback', { toRelease: 'v9' }, /unknown release v9/],
    ['rollback to the one before the only release', 'rollback', { toRelease: 'previous' }, /no release before initial/],
  ] as const)('answers invalid_parameters for %s, naming the field, and touches nothing', async (_name, action, parameters, message) => {
    const { outcome } = await service.handle(subject, command({ action, parameters }));
    expect(outcome).toMatchObject({ ok: false, code: 'invalid_parameters', remediationId });
    if (outcome.ok) throw new Error('unreachable');
    expect(outcome.message).toMatch(message);
    expect(launches).toBe(0);
  });

  it('answers spawn_failed when the process cannot be created', async () => {
    // The launcher above throws, as spawn() does for a missing executable.
    const { outcome, commandId } = await service.handle(subject, command());
    expect(outcome).toMatchObject({ ok: false, code: 'spawn_failed', remediationId });
    expect(commandId).not.toBeNull();
    expect(launches).toBe(1);
  });
});
