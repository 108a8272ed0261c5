import { hashApiKey, SYSTEM_TRAIL_ID, type Principal, type RefusalRecord } from '@autoheal/access';
import { envApiKeys, grantOf, isActive, keyChangeEntries, reconcilePlan, refusalEntry, trailsOf } from './api-key-records';
import type { ApiKeyRow } from './api-keys.repository';

const row = (over: Partial<ApiKeyRow> = {}): ApiKeyRow => ({
  id: 'ak_0123456789abcdef',
  keyHash: 'a'.repeat(64),
  subject: 'bob@example.com',
  roles: ['approver'],
  tenantScope: ['acme', 'globex'],
  label: 'laptop',
  origin: 'api',
  createdBy: 'alice@example.com',
  createdAt: new Date('2026-01-01T00:00:00Z'),
  expiresAt: null,
  revokedAt: null,
  ...over,
});

describe('bootstrap keys from the environment', () => {
  it('the ops key is an admin over every tenant; tenant keys are viewers of their tenant', () => {
    const keys = envApiKeys({ AUDITOR_OPS_API_KEY: 'ops_key_0123456789abcdef', AUDITOR_TENANT_API_KEYS: [{ tenantId: 'acme', key: 'tnt_acme_0123456789abcdef' }] });
    expect(keys.get(hashApiKey('ops_key_0123456789abcdef'))).toMatchObject({ subject: 'bootstrap-ops', roles: ['admin'], tenantScope: '*' });
    expect(keys.get(hashApiKey('tnt_acme_0123456789abcdef'))).toMatchObject({ subject: 'bootstrap-tenant-acme', roles: ['viewer'], tenantScope: ['acme'] });
    // Ids are derived as before people's keys, so trails keep naming the same key.
    expect(keys.get(hashApiKey('ops_key_0123456789abcdef'))?.id).toBe(`ak_${hashApiKey('ops_key_0123456789abcdef').slice(0, 16)}`);
  });
});

describe('key rows', () => {
  const now = new Date('2026-06-01T00:00:00Z');
  it.each<[string, Partial<ApiKeyRow>, boolean]>([
    ['no expiry', {}, true],
    ['expiring later', { expiresAt: new Date('2026-06-01T00:00:01Z') }, true],
    ['expiring now', { expiresAt: now }, false],
    ['revoked', { revokedAt: new Date('2026-05-01T00:00:00Z') }, false],
  ])('%s → active %s', (_name, over, active) => {
    expect(isActive(row(over), now)).toBe(active);
  });

  it('a grant carries no secret and no hash', () => {
    const grant = grantOf(row({ expiresAt: now }));
    expect(grant).toEqual({ id: 'ak_0123456789abcdef', subject: 'bob@example.com', roles: ['approver'], tenantScope: ['acme', 'globex'], expiresAt: now.toISOString() });
    expect(JSON.stringify(grant)).not.toContain('a'.repeat(64));
  });

  it('reconciling puts every active key and removes whatever else the bucket holds', () => {
    const active = [row(), row({ id: 'ak_1', keyHash: 'b'.repeat(64) })];
    expect(reconcilePlan(active, ['a'.repeat(64), 'c'.repeat(64)])).toEqual({ put: active, remove: ['c'.repeat(64)] });
  });
});

describe('audit rows of key changes', () => {
  const admin: Principal = { id: 'ak_ffffffffffffffff', subject: 'alice@example.com', kind: 'api_key', roles: ['admin'], tenantScope: '*' };
  let n = 0;
  const ctx = { actor: admin, source: 'POST /v1/api-keys from 10.0.0.7', at: new Date('2026-06-01T00:00:00Z'), eventId: () => `evt-${++n}` };

  it('records the change in the trail of each tenant of the scope, with the credential as actor', () => {
    const entries = keyChangeEntries('created', row(), ctx);
    expect(entries.map((e) => e.tenantId)).toEqual(['acme', 'globex']);
    expect(new Set(entries.map((e) => e.eventId)).size).toBe(2);
    expect(entries[0]).toMatchObject({ eventType: 'access.api_key_created', actor: 'alice@example.com', action: 'api_key.create', resource: { apiKeyId: 'ak_0123456789abcdef' } });
    expect(entries[0].payload).toMatchObject({ actorId: 'ak_ffffffffffffffff', subject: 'bob@example.com' });
  });

  it('a key over every tenant is recorded in the system trail, which no tenant id can name', () => {
    expect(trailsOf('*')).toEqual([SYSTEM_TRAIL_ID]);
    expect(keyChangeEntries('revoked', row({ tenantScope: '*' }), ctx).map((e) => [e.tenantId, e.eventType])).toEqual([[SYSTEM_TRAIL_ID, 'access.api_key_revoked']]);
  });

  it('a refusal window is one row with its count', () => {
    const record: RefusalRecord = { origin: 'address 10.0.0.7', code: 'invalid_credential', status: 401, count: 5000, firstAt: new Date(0), lastAt: new Date(1000), windowStart: new Date(0) };
    expect(refusalEntry(record, 'evt')).toMatchObject({ tenantId: SYSTEM_TRAIL_ID, eventType: 'access.refused', actor: 'address 10.0.0.7', outcome: 'refused', payload: { count: 5000, status: 401 } });
  });
});
