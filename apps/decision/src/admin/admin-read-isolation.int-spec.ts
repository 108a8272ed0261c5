/**
 * Row-level security on what the admin API reads (real Postgres, the roles as production has
 * them): through the reader role a deliberately unfiltered query returns only the tenants the
 * transaction's credential names, nothing without a setting, and the reader cannot write or reach
 * anything else. Then the API itself: a tenant-scoped credential sees only its tenant's rows.
 */
import { Kvm, type KV } from '@nats-io/kv';
import { Client } from 'pg';
import { apiKeyId, encodeApiKeyGrant, generateApiKey, hashApiKey, type Role, type TenantScope } from '@autoheal/access';
import { API_KEYS_BUCKET } from '@autoheal/messaging';
import { expectEventually } from '@autoheal/testing';
import { PlanningService } from '../planning/planning.service.js';
import { startDecisionTestEnv, type BootedApp, type DecisionTestEnv } from '../test-support/decision-test-app.js';
import { AdminReads } from './admin-reads.js';
import { approvalGatedTenantDoc, incidentOpenedNow } from '../test-support/test-documents.js';

const TENANT_TABLES = ['tenants', 'tenant_versions', 'remediations', 'tenant_breakers'] as const;
const BOOTSTRAP = 'decision-rls-bootstrap-0123456789';

describe('decision admin reads: row-level security (real Postgres, reader role)', () => {
  let env: DecisionTestEnv & { nc: NonNullable<DecisionTestEnv['nc']> };
  let booted: BootedApp;
  let kv: KV;
  let asReader: Client;
  let asService: Client;

  const call = async (path: string, credential: string) => {
    const res = await fetch(`${booted.baseUrl!}${path}`, { headers: { authorization: `Bearer ${credential}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  async function personKey(subject: string, roles: Role[], tenantScope: TenantScope): Promise<string> {
    const key = generateApiKey();
    const hash = hashApiKey(key);
    await kv.put(hash, encodeApiKeyGrant({ id: apiKeyId(hash), subject, roles, tenantScope, expiresAt: null }));
    await expectEventually(async () => expect((await call('/v1/admin/breaker', key)).status).toBe(200), { timeoutMs: 20_000 });
    return key;
  }

  /** Runs `work` in a transaction of `client` with the settings given, then rolls back. */
  async function inTransaction<T>(client: Client, settings: Record<string, string>, work: () => Promise<T>): Promise<T> {
    await client.query('BEGIN');
    try {
      for (const [name, value] of Object.entries(settings)) await client.query(`SELECT set_config($1, $2, true)`, [name, value]);
      return await work();
    } finally {
      await client.query('ROLLBACK');
    }
  }

  const tenantsSeen = async (client: Client, table: string): Promise<string[]> =>
    [...new Set((await client.query<{ tenant_id: string }>(`SELECT * FROM decision.${table}`)).rows.map((r) => r.tenant_id))].sort();

  beforeAll(async () => {
    env = await startDecisionTestEnv({
      prefix: 'decision-rls-',
      documents: [approvalGatedTenantDoc('tenant-a'), approvalGatedTenantDoc('tenant-b'), approvalGatedTenantDoc('tenant-c')],
      natsClient: 'decision-rls-test',
      env: { DECISION_ADMIN_API_KEY: BOOTSTRAP },
    });
    kv = await new Kvm(env.nc).create(API_KEYS_BUCKET, { history: 1 });
    booted = await env.boot({ listen: true });
    // A remediation awaiting approval and an open breaker in every tenant: rows of each in every table.
    for (const tenant of ['tenant-a', 'tenant-b', 'tenant-c']) {
      const outcome = await booted.app.get(PlanningService).onIncidentOpened(incidentOpenedNow(tenant, 'api-1'));
      expect(outcome.kind).toBe('await_approval');
      await env.pg.query(`INSERT INTO decision.tenant_breakers (tenant_id, open, reason, opened_at) VALUES ($1, true, 'test storm', now())`, [tenant]);
    }
    asReader = new Client({ connectionString: env.db.roleUrl('decisionReader') });
    asService = new Client({ connectionString: env.db.roleUrl('decision') });
    await Promise.all([asReader.connect(), asService.connect()]);
  });

  afterAll(async () => {
    await asReader?.end();
    await asService?.end();
    await env?.stop();
  });

  it('logs the reader in as its own role, which cannot bypass row-level security or become another role', async () => {
    expect((await asReader.query<{ u: string }>('SELECT current_user AS u')).rows[0].u).toBe('autoheal_decision_reader');
    const { rows } = await env.pg.query(`SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication, rolcanlogin FROM pg_roles WHERE rolname = 'autoheal_decision_reader'`);
    expect(rows).toEqual([{ rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false, rolreplication: false, rolcanlogin: true }]);
    const { rows: tables } = await env.pg.query<{ relname: string; relrowsecurity: boolean }>(
      `SELECT relname, relrowsecurity FROM pg_class WHERE relnamespace = 'decision'::regnamespace AND relname = ANY ($1) ORDER BY relname`,
      [[...TENANT_TABLES]],
    );
    expect(tables).toEqual([...TENANT_TABLES].sort().map((relname) => ({ relname, relrowsecurity: true })));
    for (const sql of ['SET ROLE autoheal_decision', 'SET ROLE autoheal_owner', 'SET row_security = off; SELECT 1 FROM decision.tenants LIMIT 1']) {
      await expect(asReader.query(sql)).rejects.toThrow(/permission denied to set role|query would be affected by row-level security policy/);
    }
  });

  it.each(TENANT_TABLES)("shows a deliberately unfiltered SELECT * FROM decision.%s only the credential's tenant, and nothing without one", async (table) => {
    const all = [...new Set((await env.pg.query<{ tenant_id: string }>(`SELECT tenant_id FROM decision.${table}`)).rows.map((r) => r.tenant_id))].sort();
    expect(all).toEqual(['tenant-a', 'tenant-b', 'tenant-c']);
    await inTransaction(asReader, { 'autoheal.tenant_id': 'tenant-a' }, async () => expect(await tenantsSeen(asReader, table)).toEqual(['tenant-a']));
    // A list scope reading across its tenants.
    await inTransaction(asReader, { 'autoheal.tenant_ids': 'tenant-a,tenant-c' }, async () => expect(await tenantsSeen(asReader, table)).toEqual(['tenant-a', 'tenant-c']));
    // Nothing set, or set and gone with its transaction: nothing.
    expect(await tenantsSeen(asReader, table)).toEqual([]);
    await inTransaction(asReader, { 'autoheal.tenant_ids': '', 'autoheal.tenant_id': '', 'autoheal.tenant_scope': '' }, async () => expect(await tenantsSeen(asReader, table)).toEqual([]));
    // A pattern is no wildcard.
    await inTransaction(asReader, { 'autoheal.tenant_ids': 'tenant-%,*', 'autoheal.tenant_id': '%' }, async () => expect(await tenantsSeen(asReader, table)).toEqual([]));
    await inTransaction(asReader, { 'autoheal.tenant_scope': '*' }, async () => expect(await tenantsSeen(asReader, table)).toEqual(all));
    // The service role plans for every tenant: it sees them all without a setting (a permissive policy of its own).
    expect(await tenantsSeen(asService, table)).toEqual(all);
  });

  it("scopes the admin API's read transactions from the credential: the tenant asked about only when in scope", async () => {
    const reads = booted.app.get(AdminReads);
    const unfiltered = (scope: TenantScope, tenantId: string | null) =>
      reads.read(scope, tenantId, async (m) => [...new Set((await m.query<{ tenant_id: string }[]>(`SELECT tenant_id FROM decision.remediations`)).map((r) => r.tenant_id))].sort());
    expect(await unfiltered(['tenant-a'], 'tenant-a')).toEqual(['tenant-a']);
    expect(await unfiltered(['tenant-a'], 'tenant-b')).toEqual([]);
    expect(await unfiltered(['tenant-a', 'tenant-b'], 'tenant-b')).toEqual(['tenant-b']);
    expect(await unfiltered(['tenant-a', 'tenant-b'], null)).toEqual(['tenant-a', 'tenant-b']);
    expect(await unfiltered('*', 'tenant-c')).toEqual(['tenant-a', 'tenant-b', 'tenant-c']);
    // The pool logs in as the reader role.
    expect(await reads.read('*', null, async (m) => (await m.query<{ u: string }[]>('SELECT current_user AS u'))[0].u)).toBe('autoheal_decision_reader');
  });

  it("answers a scoped credential with its own tenants' rows only: the list of tenants and the tenant breakers", async () => {
    const viewerB = await personKey('bea@example.com', ['viewer'], ['tenant-b']);
    const breakers = await call('/v1/admin/breaker', viewerB);
    expect(breakers.status).toBe(200);
    expect((breakers.body.tenants as { tenantId: string }[]).map((t) => t.tenantId)).toEqual(['tenant-b']);
    expect(((await call('/v1/admin/tenants', viewerB)).body.items as { tenantId: string }[]).map((t) => t.tenantId)).toEqual(['tenant-b']);
    expect((await call('/v1/admin/tenants/tenant-b/versions', viewerB)).status).toBe(200);
    // An ops credential sees every tenant.
    expect(((await call('/v1/admin/breaker', BOOTSTRAP)).body.tenants as { tenantId: string }[]).map((t) => t.tenantId).sort()).toEqual(['tenant-a', 'tenant-b', 'tenant-c']);
  });

  it.each([
    ['INSERT a tenant', `INSERT INTO decision.tenants (tenant_id, profile, policy_version) VALUES ('tenant-x', '{}', 'v')`, /permission denied for table tenants/],
    ['UPDATE a tenant', `UPDATE decision.tenants SET applied_by = 'mallory'`, /permission denied for table tenants/],
    ['DELETE tenant versions', `DELETE FROM decision.tenant_versions`, /permission denied for table tenant_versions/],
    ['approve a remediation', `UPDATE decision.remediations SET status = 'approved', reviewed_by = 'mallory'`, /permission denied for table remediations/],
    ['resume a tenant breaker', `UPDATE decision.tenant_breakers SET open = false`, /permission denied for table tenant_breakers/],
    ['resume the global breaker', `UPDATE decision.breaker SET open = false`, /permission denied for table breaker/],
    ['TRUNCATE remediations', `TRUNCATE decision.remediations`, /permission denied for table remediations/],
    ['write the outbox', `INSERT INTO decision.outbox (id, subject, payload) VALUES (gen_random_uuid(), 'remediation.tenant-a.approved', '{}')`, /permission denied for table outbox/],
    ['read the outbox', `SELECT * FROM decision.outbox`, /permission denied for table outbox/],
    ['read the inbox', `SELECT * FROM decision.inbox`, /permission denied for table inbox/],
    ['read escalation deliveries', `SELECT * FROM decision.escalation_deliveries`, /permission denied for table escalation_deliveries/],
    ['read another schema', `SELECT * FROM auditor.audit_log`, /permission denied for schema auditor/],
    ['create a table', `CREATE TABLE decision.mine (x int)`, /permission denied for schema decision/],
  ])('refuses the reader role to %s, without effect', async (_name, sql, refused) => {
    const snapshot = async () => {
      const out: Record<string, unknown> = {};
      for (const t of [...TENANT_TABLES, 'breaker', 'outbox']) out[t] = (await env.pg.query(`SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) AS h FROM decision.${t} x`)).rows[0];
      return out;
    };
    const before = await snapshot();
    await inTransaction(asReader, { 'autoheal.tenant_scope': '*' }, async () => {
      await expect(asReader.query(sql)).rejects.toThrow(refused);
    });
    expect(await snapshot()).toEqual(before);
    expect((await env.pg.query<{ t: string | null }>(`SELECT to_regclass('decision.mine') AS t`)).rows[0].t).toBeNull();
  });
});
