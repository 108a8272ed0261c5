/**
 * The admin API under attack by people's own credentials (real Postgres, a real nats-server and
 * its API_KEYS bucket, a locally generated OIDC issuer). Each refusal is checked for having had
 * no effect: the remediation still awaits approval and nothing was announced.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kvm, type KV } from '@nats-io/kv';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { apiKeyId, encodeApiKeyGrant, generateApiKey, hashApiKey, type Role, type TenantScope } from '@autoheal/access';
import { type Envelope } from '@autoheal/contracts';
import { API_KEYS_BUCKET } from '@autoheal/messaging';
import { expectEventually } from '@autoheal/testing';
import { PlanningService } from '../planning/planning.service.js';
import { startDecisionTestEnv, type BootedApp, type DecisionTestEnv } from '../test-support/decision-test-app.js';
import { AdminRefusals } from './admin-refusals.js';
import { approvalGatedTenantDoc, incidentOpenedNow } from '../test-support/test-documents.js';

const BOOTSTRAP = 'decision-admin-bootstrap-0123456789';
const ISSUER = 'https://idp.admin-test.example';
const AUDIENCE = 'autoheal-admin';

describe('admin API: people, roles and tenant scope (real Postgres, NATS KV, local OIDC issuer)', () => {
  let env: DecisionTestEnv & { nc: NonNullable<DecisionTestEnv['nc']> };
  let booted: BootedApp;
  let kv: KV;
  let jwks: Server;
  let issuerKey: CryptoKey;
  const KID = 'admin-test-key';

  const call = async (method: 'GET' | 'POST', path: string, credential: string | undefined, body?: unknown) => {
    const res = await fetch(`${booted.baseUrl!}${path}`, {
      method,
      headers: { ...(credential ? { authorization: `Bearer ${credential}` } : {}), 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  /** A person's key, published as the auditor publishes it; resolves once the decision service accepts it. */
  async function personKey(subject: string, roles: Role[], tenantScope: TenantScope, expiresAt: Date | null = null): Promise<{ key: string; id: string }> {
    const key = generateApiKey();
    const hash = hashApiKey(key);
    await kv.put(hash, encodeApiKeyGrant({ id: apiKeyId(hash), subject, roles, tenantScope, expiresAt: expiresAt?.toISOString() ?? null }));
    await expectEventually(async () => expect((await call('GET', '/v1/admin/breaker', key)).status).toBe(200), { timeoutMs: 10_000 });
    return { key, id: apiKeyId(hash) };
  }

  let instance = 0;
  /** A remediation awaiting approval, on an instance of its own (a pending approval holds a slot under the concurrency cap). */
  async function awaitingApproval(tenantId: string): Promise<string> {
    const outcome = await booted.app.get(PlanningService).onIncidentOpened(incidentOpenedNow(tenantId, `api-${++instance}`));
    if (outcome.kind !== 'await_approval') throw new Error(`expected await_approval, got ${outcome.kind}`);
    return outcome.remediationId;
  }

  /** The remediation's status, who reviewed it, and the approvals/rejections announced for it. */
  async function stateOf(remediationId: string) {
    const { rows } = await env.pg.query<{ status: string; reviewed_by: string | null }>(`SELECT status, reviewed_by FROM decision.remediations WHERE remediation_id = $1`, [remediationId]);
    const announced = await env.pg.query<{ type: string; by: string }>(
      `SELECT payload->>'type' AS type, coalesce(payload->'data'->>'approvedBy', payload->'data'->>'rejectedBy') AS by
         FROM decision.outbox WHERE payload->'data'->>'remediationId' = $1 AND payload->>'type' IN ('remediation.approved', 'remediation.rejected')`,
      [remediationId],
    );
    return { ...rows[0], announced: announced.rows };
  }

  const token = (claims: Record<string, unknown>, key: CryptoKey = issuerKey, kid = KID) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject(String(claims.email)).setIssuedAt().setExpirationTime('5m').sign(key);

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    issuerKey = pair.privateKey;
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'ES256', use: 'sig' };
    jwks = createServer((_req, res) => res.end(JSON.stringify({ keys: [publicJwk] })));
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    env = await startDecisionTestEnv({
      prefix: 'decision-admin-access-',
      documents: [approvalGatedTenantDoc('tenant-a'), approvalGatedTenantDoc('tenant-b')],
      natsClient: 'admin-access-test',
      env: {
        DECISION_ADMIN_API_KEY: BOOTSTRAP,
        AUTOHEAL_OIDC_ISSUER: ISSUER,
        AUTOHEAL_OIDC_AUDIENCE: AUDIENCE,
        AUTOHEAL_OIDC_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
        AUTOHEAL_OIDC_ALGORITHMS: 'ES256',
        // One window for the whole flood test, whenever it runs.
        DECISION_REFUSAL_WINDOW_MS: '3600000',
      },
    });
    // The auditor creates the bucket; here the test stands in for it.
    kv = await new Kvm(env.nc).create(API_KEYS_BUCKET, { history: 1 });
    booted = await env.boot({ listen: true });
  });

  afterAll(async () => {
    await env?.stop();
    await new Promise<void>((resolve) => (jwks ? jwks.close(() => resolve()) : resolve()));
  });

  it('a viewer cannot approve: 403, and the remediation still awaits approval', async () => {
    const viewer = await personKey('vera@example.com', ['viewer'], '*');
    const id = await awaitingApproval('tenant-a');
    for (const verdict of ['approve', 'reject']) {
      expect(await call('POST', `/v1/admin/remediations/${id}:${verdict}`, viewer.key, { reason: 'looks fine' })).toMatchObject({ status: 403, body: { code: 'role_forbidden' } });
    }
    // An operator changes policy but does not approve what it gates.
    const operator = await personKey('otto@example.com', ['operator'], '*');
    expect((await call('POST', `/v1/admin/remediations/${id}:approve`, operator.key, { reason: 'x' })).status).toBe(403);
    expect(await stateOf(id)).toEqual({ status: 'awaiting_approval', reviewed_by: null, announced: [] });
  });

  it('a body naming the actor is refused with 400 naming the field, and changes nothing', async () => {
    const approver = await personKey('april@example.com', ['approver'], '*');
    const id = await awaitingApproval('tenant-a');
    const res = await call('POST', `/v1/admin/remediations/${id}:approve`, approver.key, { who: 'ceo', reason: 'the CEO said so' });
    expect(res).toMatchObject({ status: 400, body: { message: expect.stringContaining('who is not accepted') as string } });
    expect((res.body.fields as { field: string }[]).map((f) => f.field)).toEqual(['who']);
    expect(await stateOf(id)).toEqual({ status: 'awaiting_approval', reviewed_by: null, announced: [] });
    const applied = await call('POST', '/v1/admin/tenants:apply', BOOTSTRAP, { documents: [approvalGatedTenantDoc('tenant-a')], changedBy: 'ceo' });
    expect(applied).toMatchObject({ status: 400, body: { message: expect.stringContaining('changedBy is not accepted') as string } });
  });

  it("an approver scoped to tenant B cannot settle tenant A's remediation; one scoped to A can, and is recorded as the actor", async () => {
    const forB = await personKey('bea@example.com', ['approver'], ['tenant-b']);
    const forA = await personKey('abe@example.com', ['approver'], ['tenant-a']);
    const id = await awaitingApproval('tenant-a');
    for (const verdict of ['approve', 'reject']) {
      expect(await call('POST', `/v1/admin/remediations/${id}:${verdict}`, forB.key, { reason: 'mine now' })).toMatchObject({ status: 403, body: { code: 'tenant_forbidden' } });
    }
    expect(await stateOf(id)).toEqual({ status: 'awaiting_approval', reviewed_by: null, announced: [] });
    // Nor resume the global breaker, nor read or change tenant A.
    expect((await call('POST', '/v1/admin/breaker:resume', forB.key, { reason: 'x' })).status).toBe(403);
    expect((await call('GET', '/v1/admin/tenants/tenant-a', forB.key)).status).toBe(403);
    expect(((await call('GET', '/v1/admin/tenants', forB.key)).body.items as { tenantId: string }[]).map((t) => t.tenantId)).toEqual(['tenant-b']);

    expect(await call('POST', `/v1/admin/remediations/${id}:approve`, forA.key, { reason: 'checked the runbook' })).toMatchObject({ status: 200, body: { status: 'approved' } });
    expect(await stateOf(id)).toEqual({ status: 'approved', reviewed_by: 'abe@example.com', announced: [{ type: 'remediation.approved', by: 'abe@example.com' }] });
  });

  it('a scoped operator cannot apply another tenant’s documents; nothing is applied', async () => {
    const operator = await personKey('opal@example.com', ['operator'], ['tenant-b']);
    const before = (await env.pg.query(`SELECT tenant_id, policy_version FROM decision.tenants ORDER BY tenant_id`)).rows;
    const changed = { ...approvalGatedTenantDoc('tenant-a'), displayName: 'taken over' };
    expect(await call('POST', '/v1/admin/tenants:apply', operator.key, { documents: [approvalGatedTenantDoc('tenant-b'), changed] })).toMatchObject({ status: 403, body: { code: 'tenant_forbidden' } });
    expect((await env.pg.query(`SELECT tenant_id, policy_version FROM decision.tenants ORDER BY tenant_id`)).rows).toEqual(before);
    const own = await call('POST', '/v1/admin/tenants:apply', operator.key, { documents: [{ ...approvalGatedTenantDoc('tenant-b'), displayName: 'B' }] });
    expect(own.status).toBe(200);
    expect((await env.pg.query(`SELECT applied_by FROM decision.tenants WHERE tenant_id = 'tenant-b'`)).rows).toEqual([{ applied_by: 'opal@example.com' }]);
  });

  it('a revoked key is refused within a bounded wait after the revoke reaches the bucket', async () => {
    const approver = await personKey('rita@example.com', ['approver'], '*');
    const id = await awaitingApproval('tenant-a');
    const revokedAt = Date.now();
    await kv.delete(hashApiKey(approver.key));
    await expectEventually(async () => expect((await call('GET', '/v1/admin/breaker', approver.key)).status).toBe(401), { timeoutMs: 5_000, intervalMs: 20 });
    const propagationMs = Date.now() - revokedAt;
    expect(propagationMs).toBeLessThan(5_000);
    expect(await call('POST', `/v1/admin/remediations/${id}:approve`, approver.key, { reason: 'quick, before it is gone' })).toMatchObject({ status: 401 });
    expect(await stateOf(id)).toEqual({ status: 'awaiting_approval', reviewed_by: null, announced: [] });
  });

  it('an expired key is refused, even while its grant is still in the bucket', async () => {
    const soon = await personKey('eve@example.com', ['approver'], '*', new Date(Date.now() + 1_500));
    const id = await awaitingApproval('tenant-a');
    await expectEventually(async () => expect((await call('GET', '/v1/admin/breaker', soon.key)).status).toBe(401), { timeoutMs: 10_000 });
    expect((await call('POST', `/v1/admin/remediations/${id}:approve`, soon.key, { reason: 'x' })).status).toBe(401);
    expect(await kv.get(hashApiKey(soon.key))).not.toBeNull();
    expect(await stateOf(id)).toEqual({ status: 'awaiting_approval', reviewed_by: null, announced: [] });
  });

  it('accepts an OIDC approver as its email claim, and refuses a forged token', async () => {
    const id = await awaitingApproval('tenant-a');
    const attacker = await generateKeyPair('ES256');
    const claims = { email: 'olga@example.com', autoheal_roles: ['approver'], autoheal_tenants: ['tenant-a'] };
    for (const forged of [await token(claims, attacker.privateKey), await token(claims, attacker.privateKey, 'attacker-kid'), `${(await token(claims)).slice(0, -4)}AAAA`]) {
      expect(await call('POST', `/v1/admin/remediations/${id}:approve`, forged, { reason: 'x' })).toMatchObject({ status: 401 });
    }
    expect(await stateOf(id)).toEqual({ status: 'awaiting_approval', reviewed_by: null, announced: [] });
    // A token with the viewer role only may read, not approve.
    expect((await call('POST', `/v1/admin/remediations/${id}:approve`, await token({ ...claims, autoheal_roles: ['viewer'] }), { reason: 'x' })).status).toBe(403);
    expect(await call('POST', `/v1/admin/remediations/${id}:approve`, await token(claims), { reason: 'token from the IdP' })).toMatchObject({ status: 200 });
    expect(await stateOf(id)).toEqual({ status: 'approved', reviewed_by: 'olga@example.com', announced: [{ type: 'remediation.approved', by: 'olga@example.com' }] });
  });

  it('reading a tenant that does not exist answers 404 and creates nothing', async () => {
    const tables = (await env.pg.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'decision' AND table_type = 'BASE TABLE' ORDER BY 1`)).rows.map((r) => r.table_name);
    const counts = async () => {
      const out: [string, number][] = [];
      for (const t of tables) out.push([t, (await env.pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM decision."${t}"`)).rows[0].n]);
      return out;
    };
    const before = await counts();
    for (const path of ['/v1/admin/tenants/no-such-tenant', '/v1/admin/tenants/no-such-tenant/versions', '/v1/admin/tenants/no-such-tenant/diff?from=sha256:00']) {
      expect(await call('GET', path, BOOTSTRAP)).toMatchObject({ status: 404, body: { code: 'tenant_not_found' } });
    }
    const backtest = await call('POST', '/v1/admin/tenants/no-such-tenant/backtest', BOOTSTRAP, { document: approvalGatedTenantDoc('no-such-tenant') });
    expect(backtest.status).toBe(200);
    expect(backtest.body).toMatchObject({ replayed: 0 });
    expect(await counts()).toEqual(before);
  });

  /** What the SECURITY stream holds: each message's subject and envelope. */
  async function securityStream(): Promise<{ subject: string; event: Envelope }[]> {
    const { state } = await env.jsm!.streams.info('SECURITY');
    const out: { subject: string; event: Envelope }[] = [];
    for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
      const m = await env.jsm!.streams.getMessage('SECURITY', { seq });
      if (m) out.push({ subject: m.subject, event: m.json<Envelope>() });
    }
    return out;
  }

  it('a flood of refused requests is audited as one signed event per origin and reason, bound for the system trail and no tenant', async () => {
    const refusals = booted.app.get(AdminRefusals);
    // Created first: waiting for its grant to arrive may itself be refused a few times.
    const viewer = await personKey('flo@example.com', ['viewer'], ['tenant-b']);
    await refusals.flush();
    await expectEventually(async () => expect((await env.pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM decision.outbox WHERE published_at IS NULL`)).rows[0].n).toBe(0), { timeoutMs: 20_000 });
    const before = (await securityStream()).length;
    // Forged keys naming a tenant in the path: the name is the caller's claim, and must start no chain.
    const statuses = await Promise.all(Array.from({ length: 200 }, (_, i) => call('GET', i % 2 ? '/v1/admin/tenants/tenant-a' : '/v1/admin/breaker', 'ahk_forged_key_0123456789').then((r) => r.status)));
    expect(new Set(statuses)).toEqual(new Set([401]));
    for (let i = 0; i < 5; i++) expect((await call('GET', '/v1/admin/tenants/tenant-a', viewer.key)).status).toBe(403);
    const records = await refusals.flush();
    expect(records.map((r) => [r.origin.startsWith('address ') ? 'address' : r.origin, r.code, r.count])).toEqual([
      ['address', 'invalid_credential', 200],
      [viewer.id, 'tenant_forbidden', 5],
    ]);
    // Through the outbox onto the bus: two events in all, on the system subject only.
    let published: { subject: string; event: Envelope }[] = [];
    await expectEventually(async () => {
      published = (await securityStream()).slice(before);
      expect(published).toHaveLength(2);
    }, { timeoutMs: 20_000 });
    expect(published.map((p) => p.subject)).toEqual(['security.@system.access_refused', 'security.@system.access_refused']);
    expect(published.map((p) => [p.event.type, p.event.tenantId, p.event.producer])).toEqual([
      ['security.access_refused', '@system', 'decision'],
      ['security.access_refused', '@system', 'decision'],
    ]);
    expect(published.map((p) => (p.event as Envelope<'security.access_refused'>).data)).toEqual([
      expect.objectContaining({ api: 'decision admin API', code: 'invalid_credential', status: 401, count: 200, origin: expect.stringMatching(/^address /) as string }),
      expect.objectContaining({ api: 'decision admin API', code: 'tenant_forbidden', status: 403, count: 5, origin: viewer.id }),
    ]);
  });
});
