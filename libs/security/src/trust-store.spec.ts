import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDevKeySet } from './dev-keys.js';
import { generateSigningKey, loadSigningKey, publicKeyToBase64 } from './keys.js';
import { SecurityError } from './security.errors.js';
import { loadTrustStore, parseTrustStore, trustedKey } from './trust-store.js';

const a = generateSigningKey().key;
const b = generateSigningKey().key;
const entry = (over: Record<string, unknown> = {}) => ({ keyId: a.keyId, identity: 'decision', publicKey: publicKeyToBase64(a.publicKey), ...over });

describe('parseTrustStore', () => {
  it('accepts a key as base64 DER or PEM', () => {
    const pem = a.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(parseTrustStore({ keys: [entry({ publicKey: pem })] }).keys.get(a.keyId)?.identity).toBe('decision');
  });

  it.each<[string, unknown, RegExp]>([
    ['not an object with keys', [], /must be an object/],
    ['an unknown top-level field', { keys: [], extra: 1 }, /must be an object/],
    ['an unknown identity', { keys: [entry({ identity: 'tenant:acme' })] }, /identity: must be detector/],
    ['a key id that is not its key’s', { keys: [entry({ keyId: b.keyId })] }, /does not match its public key/],
    ['the same key twice', { keys: [entry(), entry({ identity: 'executor' })] }, /listed twice/],
    ['a public key that is not one', { keys: [entry({ publicKey: 'bm90IGEga2V5' })] }, /publicKey/],
    ['a validity window that ends before it starts', { keys: [entry({ notBefore: '2026-02-01T00:00:00Z', notAfter: '2026-01-01T00:00:00Z' })] }, /notBefore must be before notAfter/],
    ['an unknown entry field', { keys: [entry({ role: 'admin' })] }, /keys\[0\]/],
  ])('refuses %s', (_name, raw, message) => {
    expect(() => parseTrustStore(raw)).toThrow(message);
  });

  it('lists every bad entry at once', () => {
    expect(() => parseTrustStore({ keys: [entry({ identity: 'x' }), entry({ keyId: b.keyId })] })).toThrow(/keys\[0\][\s\S]*keys\[1\]/);
  });

  it.each([
    ['before notBefore', '2026-01-01T00:00:00Z', 'key_not_yet_valid'],
    ['at notBefore', '2026-02-01T00:00:00Z', 'ok'],
    ['inside', '2026-02-15T00:00:00Z', 'ok'],
    ['at notAfter', '2026-03-01T00:00:00Z', 'key_expired'],
  ])('trustedKey %s → %s', (_name, at, expected) => {
    const store = parseTrustStore({ keys: [entry({ notBefore: '2026-02-01T00:00:00Z', notAfter: '2026-03-01T00:00:00Z' })] });
    const found = trustedKey(store, a.keyId, new Date(at));
    expect(found.ok ? 'ok' : found.reason).toBe(expected);
  });
});

describe('ensureDevKeySet', () => {
  it('writes one private key per identity (0600) and a trust file they all load from; keeps keys on a second run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'autoheal-keys-'));
    try {
      const first = ensureDevKeySet(dir, ['decision', 'agent:demo-fleet']);
      const store = loadTrustStore(first.trustFile);
      const decision = loadSigningKey(first.keyFiles.decision);
      const agent = loadSigningKey(first.keyFiles['agent:demo-fleet']);
      expect(store.keys.get(decision.keyId)?.identity).toBe('decision');
      expect(store.keys.get(agent.keyId)?.identity).toBe('agent:demo-fleet');
      expect(statSync(first.keyFiles.decision).mode & 0o777).toBe(0o600);
      const again = ensureDevKeySet(dir, ['decision', 'agent:demo-fleet']);
      expect(loadSigningKey(again.keyFiles.decision).keyId).toBe(decision.keyId);
      expect(readFileSync(again.trustFile, 'utf8')).toContain(agent.keyId);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the file when a key cannot be loaded', () => {
    expect(() => loadSigningKey('/nonexistent/key.pem')).toThrow(SecurityError);
    expect(() => loadSigningKey('/nonexistent/key.pem')).toThrow(/\/nonexistent\/key\.pem/);
  });
});
