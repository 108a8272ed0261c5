import { generateSigningKey, publicKeyToBase64, type SigningKey } from './keys.js';
import { entitledProducers, isControlSubject, signEventPayload, verifyEventProvenance, type ProvenanceRejectionReason } from './provenance.js';
import { parseTrustStore, type Identity } from './trust-store.js';

const encoder = new TextEncoder();
const NOW = new Date('2026-03-01T12:00:00.000Z');

function keyFor(): SigningKey {
  return generateSigningKey().key;
}

const detector = keyFor();
const decision = keyFor();
const executor = keyFor();
const untrusted = keyFor();
const retired = keyFor();
const future = keyFor();

const store = parseTrustStore({
  keys: [
    ...([
      [detector, 'detector'],
      [decision, 'decision'],
      [executor, 'executor'],
    ] as [SigningKey, Identity][]).map(([k, identity]) => ({ keyId: k.keyId, identity, publicKey: publicKeyToBase64(k.publicKey) })),
    { keyId: retired.keyId, identity: 'decision', publicKey: publicKeyToBase64(retired.publicKey), notAfter: '2026-02-01T00:00:00Z' },
    { keyId: future.keyId, identity: 'decision', publicKey: publicKeyToBase64(future.publicKey), notBefore: '2026-04-01T00:00:00Z' },
  ],
});

const payload = (producer: string) => encoder.encode(JSON.stringify({ id: 'e1', type: 'remediation.planned', producer }));

describe('verifyEventProvenance', () => {
  const planned = payload('decision');
  const signed = (key: SigningKey, bytes = planned) => signEventPayload(key, bytes);

  it.each<[string, () => { signature?: string; keyId?: string; payload?: Uint8Array; producer?: string; type?: string }, ProvenanceRejectionReason | 'ok']>([
    ['the decision service signing its plan', () => signed(decision), 'ok'],
    ['no signature at all', () => ({}), 'unsigned'],
    ['a key id without a signature', () => ({ keyId: decision.keyId }), 'unsigned'],
    ['a key nobody trusts', () => signed(untrusted), 'unknown_key'],
    ['a key past its notAfter', () => signed(retired), 'key_expired'],
    ['a key before its notBefore', () => signed(future), 'key_not_yet_valid'],
    ['a valid signature over other bytes', () => ({ ...signed(decision, payload('decision ')) }), 'bad_signature'],
    ['a signature under another trusted key id', () => ({ signature: signed(decision).signature, keyId: detector.keyId }), 'bad_signature'],
    ['garbage for a signature', () => ({ signature: 'AAAA', keyId: decision.keyId }), 'bad_signature'],
    ['the detector signing a plan (wrong identity)', () => signed(detector), 'not_entitled'],
    ['the executor signing a plan', () => signed(executor), 'not_entitled'],
    ['a decision signature on an envelope claiming another producer', () => ({ ...signed(decision), producer: 'executor' }), 'producer_mismatch'],
  ])('%s → %s', (_name, make, expected) => {
    const input = make();
    const verdict = verifyEventProvenance(
      store,
      { payload: input.payload ?? planned, signature: input.signature, keyId: input.keyId, type: input.type ?? 'remediation.planned', producer: input.producer ?? 'decision' },
      NOW,
    );
    expect(verdict.ok ? 'ok' : verdict.reason).toBe(expected);
  });

  it('trusts old and new key of one identity during a rotation overlap', () => {
    const rotated = keyFor();
    const overlap = parseTrustStore({
      keys: [
        { keyId: decision.keyId, identity: 'decision', publicKey: publicKeyToBase64(decision.publicKey), notAfter: '2026-03-02T00:00:00Z' },
        { keyId: rotated.keyId, identity: 'decision', publicKey: publicKeyToBase64(rotated.publicKey), notBefore: '2026-02-28T00:00:00Z' },
      ],
    });
    const check = (key: SigningKey, at: Date) => verifyEventProvenance(overlap, { payload: planned, ...signed(key), type: 'remediation.planned', producer: 'decision' }, at).ok;
    expect([check(decision, NOW), check(rotated, NOW)]).toEqual([true, true]);
    expect([check(decision, new Date('2026-03-03T00:00:00Z')), check(rotated, new Date('2026-03-03T00:00:00Z'))]).toEqual([false, true]);
  });
});

describe('entitledProducers', () => {
  it.each([
    ['incident.opened', ['detector']],
    ['incident.resolved', ['detector']],
    ['remediation.planned', ['decision']],
    ['remediation.approved', ['decision']],
    ['remediation.escalation_delivered', ['decision']],
    ['remediation.started', ['executor']],
    ['remediation.succeeded', ['executor']],
    ['remediation.failed', ['executor']],
    ['compliance.policy_changed', ['decision']],
    ['security.event_rejected', ['decision', 'executor', 'auditor']],
    ['security.access_refused', ['decision']],
    ['remediation.made_up', []],
    ['health.heartbeat', []],
  ])('%s ← %j', (type, identities) => {
    expect(entitledProducers(type)).toEqual(identities);
  });

  it.each([
    ['incident.acme.opened', true],
    ['remediation.acme.planned', true],
    ['compliance.acme.breach', true],
    ['security.acme.event_rejected', true],
    ['health.acme.api.i-1', false],
    ['deadletter.REMEDIATIONS.executor', false],
  ])('isControlSubject(%s) = %s', (subject, expected) => {
    expect(isControlSubject(subject)).toBe(expected);
  });
});
