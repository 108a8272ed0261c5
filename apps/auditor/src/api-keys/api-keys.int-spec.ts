import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import { hashApiKey, SYSTEM_TRAIL_ID } from '@autoheal/access';
import { API_KEYS_BUCKET, closeNats, connectNats } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { ACME_KEY, OPS_KEY, startAuditor, type RunningAuditor } from '../test-support/auditor';
import { AccessRefusals } from './access-refusals.service';

interface Json {
  [key: string]: unknown;
}

describe('people’s API keys (real Postgres, real NATS, the auditor as its own role)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let pg: Client;
  let nc: NatsConnection;
  let auditor: RunningAuditor | undefined;

  const call = async (method: string, path: string, key: string | undefined, body?: unknown) => {
    const res = await fetch(`${auditor!.baseUrl}${path}`, {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Json };
  };
  const readAudit = async (key: string, tenant = 'acme') => (await call('GET', `/v1/tenants/${tenant}/audit`, key)).status;
  const rows = async () => (await pg.query('SELECT * FROM auditor.api_keys ORDER BY id')).rows as Json[];
  const trail = async (tenant: string, type: string) =>
    (await pg.query('SELECT actor, action, payload FROM auditor.audit_log WHERE tenant_id = $1 AND event_type = $2 ORDER BY seq', [tenant, type])).rows as Json[];
  const bucket = async () => {
    const kv = await new Kvm(nc).open(API_KEYS_BUCKET);
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    return { kv, keys };
  };
  const boot = async (extraEnv: Record<string, string> = {}) => {
    auditor = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url, extraEnv: { AUDITOR_API_KEYS_RECONCILE_MS: '0', ...extraEnv } });
  };

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    nc = await connectNats({ servers: nats.url, name: 'api-keys-test', onClosedForGood: () => undefined });
  });

  afterEach(async () => {
    await auditor?.stop();
    auditor = undefined;
  });

  afterAll(async () => {
    await closeNats(nc);
    await pg?.end();
    await db?.drop();
    await nats?.stop();
  });

  it('bootstrap keys live in memory only: nothing stored or published, and a key removed from the environment stops working at the next boot', async () => {
    const OLD_OPS = 'ops_rotation_old_0123456789';
    const NEW_OPS = 'ops_rotation_new_0123456789';
    const TENANT = 'tnt_rotation_tenant_0123456789';
    await boot({ AUDITOR_OPS_API_KEY: OLD_OPS, AUDITOR_TENANT_API_KEYS: `acme=${TENANT}` });
    expect(await readAudit(OLD_OPS)).toBe(200);
    expect(await readAudit(TENANT)).toBe(200);
    expect(await rows()).toEqual([]);
    expect((await bucket()).keys).toEqual([]);
    await auditor!.stop();

    await boot({ AUDITOR_OPS_API_KEY: NEW_OPS, AUDITOR_TENANT_API_KEYS: `globex=${TENANT}` });
    expect(await readAudit(OLD_OPS)).toBe(401);
    expect(await readAudit(NEW_OPS)).toBe(200);
    expect(await readAudit(TENANT, 'acme')).toBe(403);
    expect(await readAudit(TENANT, 'globex')).toBe(200);
  });

  it('an admin creates a personal key: the secret is shown once, stored nowhere, published as a grant, and the creation is audited with the admin as actor', async () => {
    await boot();
    const created = await call('POST', '/v1/api-keys', OPS_KEY, { subject: 'bob@example.com', roles: ['viewer'], tenantScope: ['acme'], label: 'SIEM' });
    expect(created).toMatchObject({ status: 201, body: { subject: 'bob@example.com', roles: ['viewer'], tenantScope: ['acme'], origin: 'api', createdBy: 'bootstrap-ops', expiresAt: null, revokedAt: null } });
    const key = String(created.body.key);
    expect(key).toMatch(/^ahk_/);
    expect(JSON.stringify(await rows())).not.toContain(key);

    expect(await readAudit(key, 'acme')).toBe(200);
    expect(await readAudit(key, 'globex')).toBe(403);

    const { kv, keys } = await bucket();
    expect(keys).toEqual([hashApiKey(key)]);
    const stored = (await kv.get(hashApiKey(key)))!.string();
    expect(JSON.parse(stored)).toEqual({ id: created.body.id, subject: 'bob@example.com', roles: ['viewer'], tenantScope: ['acme'], expiresAt: null });
    expect(stored).not.toContain(key);

    expect(await trail('acme', 'access.api_key_created')).toEqual([
      expect.objectContaining({ actor: 'bootstrap-ops', action: 'api_key.create', payload: expect.objectContaining({ apiKeyId: created.body.id, subject: 'bob@example.com' }) as Json }),
    ]);

    // Listing never shows a secret or a hash.
    const listed = await call('GET', '/v1/api-keys?limit=10', OPS_KEY);
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).not.toContain(key);
    expect(JSON.stringify(listed.body)).not.toContain(hashApiKey(key));
  });

  it('lists keys a page at a time', async () => {
    await boot();
    for (const subject of ['p1@example.com', 'p2@example.com', 'p3@example.com']) {
      expect((await call('POST', '/v1/api-keys', OPS_KEY, { subject, roles: ['viewer'], tenantScope: '*' })).status).toBe(201);
    }
    const all = (await rows()).map((r) => r.id);
    const first = await call('GET', '/v1/api-keys?limit=2', OPS_KEY);
    const second = await call('GET', `/v1/api-keys?limit=2&after=${String(first.body.next)}`, OPS_KEY);
    expect((first.body.items as Json[]).map((i) => i.id)).toEqual(all.slice(0, 2));
    expect((second.body.items as Json[]).map((i) => i.id)).toEqual(all.slice(2, 4));
    expect(first.body.next).toBe(all[1]);
    expect((await call('GET', '/v1/api-keys?limit=0', OPS_KEY)).body).toMatchObject({ statusCode: 400, message: expect.stringContaining('limit') as string });
  });

  it('refuses key management to anyone but an admin over every tenant, and creates nothing', async () => {
    await boot();
    const before = await rows();
    const scopedAdmin = await call('POST', '/v1/api-keys', OPS_KEY, { subject: 'tenant-admin@example.com', roles: ['admin'], tenantScope: ['acme'] });
    const before2 = await rows();
    for (const key of [ACME_KEY, String(scopedAdmin.body.key)]) {
      expect(await call('POST', '/v1/api-keys', key, { subject: 'mallory', roles: ['admin'], tenantScope: '*' })).toMatchObject({ status: 403 });
      expect(await call('GET', '/v1/api-keys', key)).toMatchObject({ status: 403 });
      expect(await call('POST', `/v1/api-keys/${String(scopedAdmin.body.id)}:revoke`, key)).toMatchObject({ status: 403 });
    }
    expect(await call('POST', '/v1/api-keys', undefined, { subject: 'mallory', roles: ['admin'], tenantScope: '*' })).toMatchObject({ status: 401 });
    expect(await rows()).toEqual(before2);
    expect(before2).toHaveLength(before.length + 1);
    // The actor is the credential's: a body naming one is refused.
    expect(await call('POST', '/v1/api-keys', OPS_KEY, { subject: 'x', roles: ['viewer'], tenantScope: '*', createdBy: 'ceo' })).toMatchObject({
      status: 400,
      body: { message: expect.stringContaining('createdBy') as string },
    });
    expect(await call('POST', '/v1/api-keys', OPS_KEY, { subject: 'x', roles: ['root'], tenantScope: '*' })).toMatchObject({ status: 400, body: { message: expect.stringContaining('role') as string } });
    expect(await call('POST', '/v1/api-keys', OPS_KEY, { subject: 'x', roles: ['viewer'], tenantScope: ['a.b'] })).toMatchObject({ status: 400, body: { message: expect.stringContaining('tenantScope') as string } });
    expect(await rows()).toEqual(before2);
  });

  it('revoke and expire take effect at once, leave the bucket, are audited, and cannot be undone', async () => {
    await boot();
    const a = await call('POST', '/v1/api-keys', OPS_KEY, { subject: 'carol@example.com', roles: ['viewer'], tenantScope: '*' });
    const b = await call('POST', '/v1/api-keys', OPS_KEY, { subject: 'dave@example.com', roles: ['viewer'], tenantScope: ['acme'], expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    expect(await readAudit(String(a.body.key))).toBe(200);
    expect(await readAudit(String(b.body.key))).toBe(200);

    expect(await call('POST', `/v1/api-keys/${String(a.body.id)}:revoke`, OPS_KEY)).toMatchObject({ status: 200, body: { revokedAt: expect.any(String) as string } });
    expect(await readAudit(String(a.body.key))).toBe(401);
    expect(await call('POST', `/v1/api-keys/${String(a.body.id)}:revoke`, OPS_KEY)).toMatchObject({ status: 409 });
    expect(await call('POST', `/v1/api-keys/${String(a.body.id)}:expire`, OPS_KEY, {})).toMatchObject({ status: 409 });

    // A key's life is shortened, never extended.
    expect(await call('POST', `/v1/api-keys/${String(b.body.id)}:expire`, OPS_KEY, { at: new Date(Date.now() + 7_200_000).toISOString() })).toMatchObject({
      status: 400,
      body: { message: expect.stringContaining('at must not be after') as string },
    });
    expect(await readAudit(String(b.body.key))).toBe(200);
    expect(await call('POST', `/v1/api-keys/${String(b.body.id)}:expire`, OPS_KEY, {})).toMatchObject({ status: 200 });
    expect(await readAudit(String(b.body.key))).toBe(401);
    expect(await call('POST', '/v1/api-keys/ak_0000000000000000:revoke', OPS_KEY)).toMatchObject({ status: 404 });

    const { keys } = await bucket();
    expect(keys).not.toContain(hashApiKey(String(a.body.key)));
    expect(keys).not.toContain(hashApiKey(String(b.body.key)));
    expect((await trail(SYSTEM_TRAIL_ID, 'access.api_key_revoked')).map((r) => [r.actor, (r.payload as Json).apiKeyId])).toEqual([['bootstrap-ops', a.body.id]]);
    expect((await trail('acme', 'access.api_key_expired')).map((r) => [r.actor, (r.payload as Json).apiKeyId])).toEqual([['bootstrap-ops', b.body.id]]);

    // The service's own role may not rewrite a key or delete one: only add, revoke and expire.
    const own = new Client({ connectionString: db.roleUrl('auditor') });
    await own.connect();
    try {
      await expect(own.query(`UPDATE auditor.api_keys SET roles = ARRAY['admin'] WHERE id = $1`, [a.body.id])).rejects.toThrow(/permission denied/);
      await expect(own.query(`UPDATE auditor.api_keys SET revoked_at = NULL WHERE id = $1`, [a.body.id])).rejects.toThrow(/cannot be changed/);
      await expect(own.query(`UPDATE auditor.api_keys SET expires_at = NULL WHERE id = $1`, [b.body.id])).rejects.toThrow(/cannot move later/);
      await expect(own.query(`DELETE FROM auditor.api_keys WHERE id = $1`, [a.body.id])).rejects.toThrow(/permission denied/);
    } finally {
      await own.end();
    }
  });

  it('reconciles the bucket with the database at boot: planted grants go, active keys come back', async () => {
    await boot();
    const kept = await call('POST', '/v1/api-keys', OPS_KEY, { subject: 'erin@example.com', roles: ['approver'], tenantScope: '*' });
    await auditor!.stop();
    auditor = undefined;
    const { kv } = await bucket();
    await kv.delete(hashApiKey(String(kept.body.key)));
    await kv.put('e'.repeat(64), JSON.stringify({ id: 'ak_eeeeeeeeeeeeeeee', subject: 'planted', roles: ['admin'], tenantScope: '*', expiresAt: null }));
    await boot();
    const { keys } = await bucket();
    expect(keys).toContain(hashApiKey(String(kept.body.key)));
    expect(keys).not.toContain('e'.repeat(64));
  });

  it('a flood of refused requests is one audit row per origin and reason, with its count', async () => {
    await boot({ AUDITOR_REFUSAL_WINDOW_MS: '3600000' });
    const before = (await trail(SYSTEM_TRAIL_ID, 'access.refused')).length;
    const statuses = await Promise.all(Array.from({ length: 200 }, () => readAudit('ahk_not_a_key_0123456789')));
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(await readAudit(ACME_KEY, 'globex')).toBe(403);
    expect((await trail(SYSTEM_TRAIL_ID, 'access.refused')).length).toBe(before);
    await auditor!.app.get(AccessRefusals).flush();
    await expectEventually(async () => {
      const refused = (await trail(SYSTEM_TRAIL_ID, 'access.refused')).slice(before);
      expect(refused.map((r) => [r.action, (r.payload as Json).code, (r.payload as Json).count])).toEqual([
        ['api.authenticate', 'invalid_credential', 200],
        ['api.authorize', 'tenant_forbidden', 1],
      ]);
    });
    // No chain was started for a tenant named only in a refused request.
    expect((await pg.query(`SELECT count(*)::int AS n FROM auditor.audit_log WHERE tenant_id = 'no-such-tenant'`)).rows[0]).toEqual({ n: 0 });
  });

  it('documents the key routes in the OpenAPI document', async () => {
    await boot();
    const doc = (await (await fetch(`${auditor!.baseUrl}/docs-json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    expect(Object.keys(doc.paths['/v1/api-keys']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/v1/api-keys'].post.responses).sort()).toEqual(['201', '400', '401', '403']);
    expect(doc.paths['/v1/api-keys/{id}:revoke']).toHaveProperty('post');
    expect(doc.paths['/v1/api-keys/{id}:expire']).toHaveProperty('post');
  });
});
