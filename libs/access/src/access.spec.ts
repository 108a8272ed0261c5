import { AccessErrorCode } from './access.errors';
import { apiKeyId, decodeApiKeyGrant, encodeApiKeyGrant, generateApiKey, hashApiKey, principalOfGrant } from './api-key';
import { Authenticator, authorizationError } from './authenticator';
import { bearerToken, looksLikeJwt } from './bearer';
import { principalFromClaims } from './oidc';
import { mayDo, PERMISSIONS, type Permission } from './permissions';
import { mayAccessTenant, parseTenantScope, SYSTEM_TRAIL_ID, type Principal, type Role } from './principal';
import { SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';
import { REFUSAL_OVERFLOW_ORIGIN, REFUSAL_TALLY_MAX_ORIGINS, RefusalTally } from './refusal-tally';

const person = (roles: Role[], tenantScope: Principal['tenantScope'] = '*'): Principal => ({ id: 'ak_0123456789abcdef', subject: 'alice@example.com', kind: 'api_key', roles, tenantScope });

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

  it('tells JWTs from API keys', () => {
    expect(looksLikeJwt('eyJh.eyJz.c2ln')).toBe(true);
    expect(looksLikeJwt('eyJh.eyJz.')).toBe(true);
    expect(looksLikeJwt(generateApiKey())).toBe(false);
    expect(looksLikeJwt('a.b')).toBe(false);
  });
});

describe('the permission table', () => {
  const table: [Role, Permission[]][] = [
    ['viewer', ['read']],
    ['operator', ['read', 'tenants:apply']],
    ['approver', ['read', 'remediations:review', 'breaker:resume']],
    ['admin', [...PERMISSIONS]],
  ];
  it.each(table)('%s may do exactly %j', (role, allowed) => {
    for (const permission of PERMISSIONS) expect([permission, mayDo(person([role]), permission)]).toEqual([permission, allowed.includes(permission)]);
  });

  it('a principal without roles may do nothing; roles add up', () => {
    for (const permission of PERMISSIONS) expect(mayDo(person([]), permission)).toBe(false);
    expect(mayDo(person(['operator', 'approver']), 'tenants:apply')).toBe(true);
    expect(mayDo(person(['operator', 'approver']), 'remediations:review')).toBe(true);
  });

  it('checks the role before the tenant', () => {
    expect(authorizationError(person(['viewer'], ['acme']), 'remediations:review', 'globex')).toBe(AccessErrorCode.RoleForbidden);
    expect(authorizationError(person(['approver'], ['acme']), 'remediations:review', 'globex')).toBe(AccessErrorCode.TenantForbidden);
    expect(authorizationError(person(['approver'], ['acme']), 'remediations:review', 'acme')).toBeNull();
    expect(authorizationError(person(['approver'], '*'), 'remediations:review', 'anything')).toBeNull();
  });
});

describe('tenant scope', () => {
  it.each<[Principal['tenantScope'], string, boolean]>([
    ['*', 'acme', true],
    [['acme'], 'acme', true],
    [['acme'], 'globex', false],
    [['acme'], 'ACME', false],
    [[], 'acme', false],
  ])('%j may access %s → %s', (scope, tenant, expected) => {
    expect(mayAccessTenant({ tenantScope: scope }, tenant)).toBe(expected);
  });

  it.each<[unknown, string | null]>([
    ['*', null],
    [['acme', 'globex', 'acme'], null],
    [[], 'non-empty'],
    ['acme', 'non-empty'],
    [['a.b'], 'invalid tenant id'],
    [['*'], 'invalid tenant id'],
    [[7], 'invalid tenant id'],
  ])('parses %j', (value, error) => {
    const parsed = parseTenantScope(value);
    if (error === null) expect(parsed.ok).toBe(true);
    else expect(parsed).toEqual({ ok: false, message: expect.stringContaining(error) as string });
  });

  it('deduplicates and sorts a list', () => {
    expect(parseTenantScope(['globex', 'acme', 'globex'])).toEqual({ ok: true, scope: ['acme', 'globex'] });
  });

  it('the system trail can never be a tenant', () => {
    expect(SUBJECT_TOKEN_PATTERN.test(SYSTEM_TRAIL_ID)).toBe(false);
  });
});

describe('API keys', () => {
  it('hashes with sha256 and keeps the ak_ id derivation, so existing ids stay stable', () => {
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(apiKeyId(hashApiKey('abc'))).toBe('ak_ba7816bf8f01cfea');
    const key = generateApiKey();
    expect(key).toMatch(/^ahk_[A-Za-z0-9_-]{43}$/);
    expect(generateApiKey()).not.toBe(key);
  });

  const grant = { id: 'ak_0123456789abcdef', subject: 'alice@example.com', roles: ['approver' as const], tenantScope: ['acme'], expiresAt: '2030-01-01T00:00:00.000Z' };

  it('round-trips a grant and refuses malformed ones', () => {
    expect(decodeApiKeyGrant(encodeApiKeyGrant(grant))).toEqual({ ok: true, grant });
    expect(decodeApiKeyGrant('{')).toEqual({ ok: false, message: 'not JSON' });
    expect(decodeApiKeyGrant(JSON.stringify({ ...grant, roles: ['root'] }))).toMatchObject({ ok: false });
    expect(decodeApiKeyGrant(JSON.stringify({ ...grant, roles: [] }))).toMatchObject({ ok: false });
    expect(decodeApiKeyGrant(JSON.stringify({ ...grant, tenantScope: ['a b'] }))).toMatchObject({ ok: false, message: expect.stringContaining('tenantScope') as string });
  });

  it('an expired grant stands for nobody', () => {
    expect(principalOfGrant(grant, new Date('2029-12-31T23:59:59Z'))).toMatchObject({ subject: 'alice@example.com', kind: 'api_key' });
    expect(principalOfGrant(grant, new Date('2030-01-01T00:00:00Z'))).toBeNull();
    expect(principalOfGrant({ ...grant, expiresAt: null }, new Date('2999-01-01T00:00:00Z'))).not.toBeNull();
  });

  it('the authenticator looks keys up by hash and refuses what it cannot find', async () => {
    const key = generateApiKey();
    const auth = new Authenticator((hash) => (hash === hashApiKey(key) ? person(['viewer']) : null), null);
    expect(await auth.authenticate(`Bearer ${key}`)).toMatchObject({ ok: true });
    expect(await auth.authenticate(`Bearer ${key}x`)).toMatchObject({ ok: false, code: AccessErrorCode.InvalidCredential });
    expect(await auth.authenticate(undefined)).toMatchObject({ ok: false, code: AccessErrorCode.MissingCredential });
    expect(await auth.authenticate('Bearer a.b.c')).toMatchObject({ ok: false, code: AccessErrorCode.InvalidCredential, reason: expect.stringContaining('OIDC is not configured') as string });
  });
});

describe('OIDC claims', () => {
  const config = { subjectClaim: 'email', rolesClaim: 'autoheal_roles', tenantsClaim: 'autoheal_tenants' };
  const claims = { iss: 'https://idp.example', sub: 'u1', email: 'bob@example.com', autoheal_roles: ['approver', 'root'], autoheal_tenants: ['acme'] };

  it('maps claims to a principal; unknown role names are ignored', () => {
    const result = principalFromClaims(config, claims);
    expect(result).toEqual({ ok: true, principal: { id: expect.stringMatching(/^oidc_[0-9a-f]{16}$/) as string, subject: 'bob@example.com', kind: 'oidc', roles: ['approver'], tenantScope: ['acme'] } });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['no subject claim', { email: undefined }, 'email'],
    ['a scope that is not a list', { autoheal_tenants: 'acme' }, 'autoheal_tenants'],
    ['no scope at all', { autoheal_tenants: undefined }, 'autoheal_tenants'],
  ])('refuses %s', (_name, change, named) => {
    expect(principalFromClaims(config, { ...claims, ...change })).toEqual({ ok: false, reason: expect.stringContaining(named) as string });
  });

  it('gives different subjects of different issuers different ids', () => {
    const a = principalFromClaims(config, claims);
    const b = principalFromClaims(config, { ...claims, iss: 'https://other.example' });
    expect(a.ok && b.ok && a.principal.id !== b.principal.id).toBe(true);
  });
});

describe('RefusalTally', () => {
  const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);

  it('records a flood as one record per origin and reason per window', () => {
    const tally = new RefusalTally(60_000);
    for (let i = 0; i < 10_000; i++) expect(tally.record({ origin: '10.0.0.7', code: 'invalid_credential', status: 401 }, at(i))).toEqual([]);
    tally.record({ origin: 'ak_1', code: 'role_forbidden', status: 403 }, at(10_000));
    expect(tally.drain(at(59_999))).toEqual([]);
    const closed = tally.record({ origin: '10.0.0.7', code: 'invalid_credential', status: 401 }, at(60_000));
    expect(closed).toEqual([
      expect.objectContaining({ origin: '10.0.0.7', count: 10_000, firstAt: at(0), lastAt: at(9_999), windowStart: at(0) }),
      expect.objectContaining({ origin: 'ak_1', code: 'role_forbidden', count: 1 }),
    ]);
    expect(tally.drain(at(0), true)).toEqual([expect.objectContaining({ origin: '10.0.0.7', count: 1, windowStart: at(60_000) })]);
  });

  it('bounds memory: past the limit, new origins share one record', () => {
    const tally = new RefusalTally(60_000);
    for (let i = 0; i < REFUSAL_TALLY_MAX_ORIGINS + 500; i++) tally.record({ origin: `10.0.${i >> 8}.${i & 255}`, code: 'invalid_credential', status: 401 }, at(1));
    const records = tally.drain(at(0), true);
    expect(records).toHaveLength(REFUSAL_TALLY_MAX_ORIGINS + 1);
    expect(records.find((r) => r.origin === REFUSAL_OVERFLOW_ORIGIN)?.count).toBe(500);
  });
});
