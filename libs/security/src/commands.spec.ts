import { CommandLedger, signCommand, signReply, verifyCommand, verifyReply, type CommandContent, type CommandRejectionReason, type ReplyRejectionReason, type SignedCommand, type SignedReply } from './commands.js';
import { generateSigningKey, publicKeyToBase64, type SigningKey } from './keys.js';
import { parseTrustStore, type Identity } from './trust-store.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const executor = generateSigningKey().key;
const decision = generateSigningKey().key;
const agent = generateSigningKey().key;
const otherAgent = generateSigningKey().key;
const stranger = generateSigningKey().key;
const store = parseTrustStore({
  keys: ([
    [executor, 'executor'],
    [decision, 'decision'],
    [agent, 'agent:a1'],
    [otherAgent, 'agent:a2'],
  ] as [SigningKey, Identity][]).map(([k, identity]) => ({ keyId: k.keyId, identity, publicKey: publicKeyToBase64(k.publicKey) })),
});

const TARGET = { tenantId: 'acme', service: 'api', instance: 'api-1' };
const content = (over: Partial<CommandContent> = {}): CommandContent => ({
  commandId: '0195a0a0-0000-7000-8000-000000000001',
  remediationId: '0195a0a0-0000-7000-8000-0000000000aa',
  ...TARGET,
  action: 'restart',
  parameters: {},
  issuedAt: '2026-03-01T11:59:59.000Z',
  expiresAt: '2026-03-01T12:00:29.000Z',
  ...over,
});
const check = { now: NOW, subjectTarget: TARGET, runs: (t: typeof TARGET) => t.instance !== 'not-mine', maxSkewMs: 5_000, maxLifetimeMs: 300_000 };

describe('verifyCommand', () => {
  const good = signCommand(executor, content());
  it.each<[string, () => Partial<SignedCommand>, (typeof check)['subjectTarget'] | undefined, CommandRejectionReason | 'ok']>([
    ['a fresh executor command for this target', () => good, undefined, 'ok'],
    ['unsigned', () => content(), undefined, 'unsigned'],
    ['signed by a stranger', () => signCommand(stranger, content()), undefined, 'unknown_key'],
    ['signed by the decision service', () => signCommand(decision, content()), undefined, 'not_entitled'],
    ['another action than signed', () => ({ ...good, action: 'rollback' }), undefined, 'bad_signature'],
    ['other parameters than signed', () => ({ ...good, parameters: { force: true } }), undefined, 'bad_signature'],
    ['another instance than signed', () => ({ ...good, instance: 'api-2' }), { ...TARGET, instance: 'api-2' }, 'bad_signature'],
    ['a later expiry than signed', () => ({ ...good, expiresAt: '2026-03-01T13:00:00.000Z' }), undefined, 'bad_signature'],
    ['expired beyond the skew', () => signCommand(executor, content({ issuedAt: '2026-03-01T11:59:00.000Z', expiresAt: '2026-03-01T11:59:54.000Z' })), undefined, 'expired'],
    ['expired but within the skew', () => signCommand(executor, content({ issuedAt: '2026-03-01T11:59:00.000Z', expiresAt: '2026-03-01T11:59:56.000Z' })), undefined, 'ok'],
    ['issued in the future', () => signCommand(executor, content({ issuedAt: '2026-03-01T12:00:10.000Z', expiresAt: '2026-03-01T12:00:40.000Z' })), undefined, 'not_yet_valid'],
    ['valid for a day', () => signCommand(executor, content({ expiresAt: '2026-03-02T12:00:00.000Z' })), undefined, 'lifetime_too_long'],
    ['arriving on another target’s subject', () => good, { ...TARGET, instance: 'api-2' }, 'target_mismatch'],
    ['for a target this agent does not run', () => signCommand(executor, content({ instance: 'not-mine' })), { ...TARGET, instance: 'not-mine' }, 'unknown_target'],
  ])('%s → %s', (_name, make, subjectTarget, expected) => {
    const verdict = verifyCommand(store, make(), { ...check, subjectTarget: subjectTarget ?? TARGET });
    expect(verdict.ok ? 'ok' : verdict.reason).toBe(expected);
  });
});

describe('CommandLedger', () => {
  it('lets the same command through again (redelivery) and a retry of the same remediation with a new command', () => {
    const ledger = new CommandLedger(60_000);
    const first = signCommand(executor, content());
    expect(ledger.admit(first, NOW)).toEqual({ ok: true });
    expect(ledger.admit(first, NOW)).toEqual({ ok: true });
    const retry = signCommand(executor, content({ commandId: '0195a0a0-0000-7000-8000-000000000002', issuedAt: '2026-03-01T12:00:00.000Z' }));
    expect(ledger.admit(retry, NOW)).toEqual({ ok: true });
  });

  it.each([
    ['a command id reused for other content', content({ remediationId: '0195a0a0-0000-7000-8000-0000000000bb' })],
    ['a remediation first asked for another instance', content({ commandId: '0195a0a0-0000-7000-8000-000000000003', instance: 'api-2' })],
    ['a remediation first asked for other parameters', content({ commandId: '0195a0a0-0000-7000-8000-000000000004', parameters: { drain: false } })],
  ])('refuses %s as replayed', (_name, second) => {
    const ledger = new CommandLedger(60_000);
    expect(ledger.admit(signCommand(executor, content()), NOW).ok).toBe(true);
    const verdict = ledger.admit(signCommand(executor, second), NOW);
    expect(verdict.ok ? 'ok' : verdict.reason).toBe('replayed');
  });
});

describe('verifyReply', () => {
  const expected = { identity: 'agent:a1' as Identity, remediationId: content().remediationId, commandId: content().commandId };
  const reply = (over: Record<string, unknown> = {}) => ({
    ok: true,
    remediationId: expected.remediationId,
    commandId: expected.commandId,
    agentId: 'a1',
    pid: 4242,
    restartedAt: NOW.toISOString(),
    replayed: false,
    signedAt: NOW.toISOString(),
    ...over,
  });
  const good = signReply(agent, reply());

  it.each<[string, () => Partial<SignedReply>, ReplyRejectionReason | 'ok']>([
    ['the registered agent’s signed answer', () => good, 'ok'],
    ['unsigned', () => reply(), 'unsigned'],
    ['signed by an untrusted key', () => signReply(stranger, reply()), 'unknown_key'],
    ['signed by another agent', () => signReply(otherAgent, reply({ agentId: 'a2' })), 'wrong_agent'],
    ['another agent’s key claiming to be a1', () => signReply(otherAgent, reply()), 'wrong_agent'],
    ['signed by the executor itself', () => signReply(executor, reply()), 'wrong_agent'],
    ['a made-up pid on a signed answer', () => ({ ...good, pid: 1 }), 'bad_signature'],
    ['success flipped on a signed refusal', () => ({ ...signReply(agent, reply({ ok: false, code: 'not_ready', message: 'x', pid: undefined })), ok: true }), 'bad_signature'],
    ['a signed answer for another command', () => signReply(agent, reply({ commandId: '0195a0a0-0000-7000-8000-0000000000ff' })), 'mismatched_reply'],
    ['a signed answer for another remediation', () => signReply(agent, reply({ remediationId: '0195a0a0-0000-7000-8000-0000000000ff' })), 'mismatched_reply'],
  ])('%s → %s', (_name, make, want) => {
    const verdict = verifyReply(store, make(), expected, NOW);
    expect(verdict.ok ? 'ok' : verdict.reason).toBe(want);
  });
});
