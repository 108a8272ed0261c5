import { apiKeyId, bearerToken, generateApiKey, hashApiKey, mayReadTenant } from './api-key';
import { envApiKeys } from './api-keys.service';

describe('bearerToken', () => {
  it.each<[string | string[] | undefined, string | null]>([
    ['Bearer abc123', 'abc123'],
    ['bearer   abc123', 'abc123'],
    ['Bearer abc123 ', 'abc123'],
    ['Basic dXNlcjpwYXNz', null],
    ['Bearer', null],
    ['Bearer a b', null],
    ['abc123', null],
    [undefined, null],
    [['Bearer a', 'Bearer b'], null],
  ])('%j → %j', (header, expected) => {
    expect(bearerToken(header)).toBe(expected);
  });
});

describe('mayReadTenant', () => {
  it.each([
    [{ id: 'a', scope: 'ops' as const, tenantId: null }, 'acme', true],
    [{ id: 'a', scope: 'ops' as const, tenantId: null }, 'globex', true],
    [{ id: 'b', scope: 'tenant' as const, tenantId: 'acme' }, 'acme', true],
    [{ id: 'b', scope: 'tenant' as const, tenantId: 'acme' }, 'globex', false],
    [{ id: 'b', scope: 'tenant' as const, tenantId: 'acme' }, 'ACME', false],
  ])('%j reading %s → %s', (principal, tenant, expected) => {
    expect(mayReadTenant(principal, tenant)).toBe(expected);
  });
});

describe('keys', () => {
  it('hashes with sha256 and derives a stable id that does not contain the key', () => {
    const key = generateApiKey('tenant');
    expect(key).toMatch(/^tnt_[A-Za-z0-9_-]{43}$/);
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(apiKeyId(hashApiKey(key))).toBe(apiKeyId(hashApiKey(key)));
    expect(apiKeyId(hashApiKey(key))).not.toContain(key.slice(4, 12));
    expect(generateApiKey('ops')).not.toBe(generateApiKey('ops'));
  });

  it('turns the environment into key rows', () => {
    const rows = envApiKeys({
      AUDITOR_OPS_API_KEY: 'ops_key_0123456789abcdef',
      AUDITOR_TENANT_API_KEYS: [{ tenantId: 'acme', key: 'tnt_acme_0123456789abcdef' }],
    });
    expect(rows).toEqual([
      expect.objectContaining({ scope: 'ops', tenantId: null, keyHash: hashApiKey('ops_key_0123456789abcdef'), origin: 'env' }),
      expect.objectContaining({ scope: 'tenant', tenantId: 'acme', keyHash: hashApiKey('tnt_acme_0123456789abcdef'), origin: 'env' }),
    ]);
  });
});
