/**
 * Reads never stall writes, and a read sees only its tenant — tried as a hostile key would, against
 * a real Postgres and nats-server, the auditor wired as in production (its reads logging in as
 * `autoheal_auditor_reader`). Every attack checks the outcome (responses, rows), never timings.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import { closeNats, connectNats } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, publishSigned, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { apiKeyId, hashApiKey } from '../api-keys/api-key';
import { ACME_KEY, GLOBEX_KEY, incidentOpened, OPS_KEY, startAuditor, type RunningAuditor } from '../test-support/auditor';
import { AuditReadRecorder } from './audit-read-recorder';
import { AuditReadService } from './audit-read.service';

interface Response<T> {
  status: number;
  body: T;
  headers: Headers;
}

interface ReadRow {
  tenant_id: string;
  actor: string;
  outcome: string;
  payload: { count: number; kinds: Record<string, number>; statuses?: Record<string, number>; queries?: unknown[] };
}

/** Limits small enough to reach in a test: a burst of 30 tokens per key, a verify costs 10, refilling 6 a minute. */
const LIMITS = { AUDITOR_READ_BURST: '30', AUDITOR_READ_RATE_PER_MINUTE: '6', AUDITOR_VERIFY_COST: '10', AUDITOR_FULL_VERIFY_PER_HOUR: '1', AUDITOR_READ_POOL_SIZE: '2' };
const BIG_CHAIN = 3_000;

describe('audit reads under abuse (real Postgres and nats-server)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let admin: Client;
  let nc: NatsConnection;
  let auditor: RunningAuditor;
  /** Successful reads by GLOBEX_KEY so far (all in one window: the window here is 60 s and flushed by hand). */
  let globexReads = 0;

  async function get<T = { items: unknown[]; nextCursor: string | null }>(baseUrl: string, path: string, key?: string): Promise<Response<T>> {
    const res = await fetch(`${baseUrl}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    return { status: res.status, body: (await res.json()) as T, headers: res.headers };
  }

  /** Runs `n` requests, `concurrency` at a time. */
  async function flood<T>(n: number, concurrency: number, one: (i: number) => Promise<T>): Promise<T[]> {
    const results: T[] = [];
    for (let start = 0; start < n; start += concurrency) {
      results.push(...(await Promise.all(Array.from({ length: Math.min(concurrency, n - start) }, (_, j) => one(start + j)))));
    }
    return results;
  }

  const readRows = async (tenantId: string): Promise<ReadRow[]> =>
    (await admin.query<ReadRow>(`SELECT tenant_id, actor, outcome, payload FROM auditor.audit_log WHERE tenant_id = $1 AND event_type = 'audit.read' ORDER BY seq`, [tenantId])).rows;

  const rowCount = async (tenantId: string): Promise<number> =>
    Number((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM auditor.audit_log WHERE tenant_id = $1`, [tenantId])).rows[0].n);

  async function recordViaNats(tenantId: string, n: number): Promise<string[]> {
    const events = Array.from({ length: n }, (_, i) => incidentOpened(tenantId, randomUUID(), `api-${i}`));
    for (const event of events) await publishSigned(nc, auditor.keys, event);
    return events.map((e) => e.id);
  }

  async function expectRecorded(tenantId: string, eventIds: string[]): Promise<void> {
    await expectEventually(
      async () => {
        const { rows } = await admin.query<{ event_id: string }>(`SELECT event_id FROM auditor.audit_log WHERE tenant_id = $1 AND event_id = ANY($2)`, [tenantId, eventIds]);
        expect(rows.map((r) => r.event_id).sort()).toEqual([...eventIds].sort());
      },
      { timeoutMs: 30_000 },
    );
  }

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    admin = new Client({ connectionString: db.url });
    await admin.connect();
    auditor = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url, extraEnv: LIMITS });
    nc = await connectNats({ servers: nats.url, name: 'audit-read-isolation-int-spec' });
    // acme: a long chain worth verifying; globex: a short one.
    await admin.query(`
      DO $$
      BEGIN
        FOR i IN 1..${BIG_CHAIN} LOOP
          PERFORM auditor.append_audit_entry('acme', 'bulk-' || i, 'incident.opened', now(), 'detector', 'incident.open', 'info',
            '{}'::jsonb, 'bulk', NULL, NULL, NULL, jsonb_build_object('i', i));
        END LOOP;
      END
      $$`);
    await expectRecorded('globex', await recordViaNats('globex', 3));
  }, 120_000);

  afterAll(async () => {
    await auditor?.stop();
    if (nc) await closeNats(nc);
    await admin?.end();
    await db?.drop();
    await nats?.stop();
  });

  it("refuses a verify flood by acme's key with 429s naming the limit, while globex's reads and the recording of globex's events complete", async () => {
    const before = await rowCount('globex');
    const [verifies, globexPages, recorded] = await Promise.all([
      flood(16, 16, () => get<{ ok?: boolean; code?: string; limit?: string; message?: string; retryAfterSeconds?: number }>(auditor.baseUrl, '/v1/tenants/acme/audit/verify', ACME_KEY)),
      flood(3, 3, () => get(auditor.baseUrl, '/v1/tenants/globex/audit', GLOBEX_KEY)),
      recordViaNats('globex', 5),
    ]);
    globexReads += 3;

    const ok = verifies.filter((r) => r.status === 200);
    const limited = verifies.filter((r) => r.status === 429);
    // A burst of 30 tokens pays for 3 verifies; the rest are refused before they touch the database.
    expect({ ok: ok.length, limited: limited.length }).toEqual({ ok: 3, limited: 13 });
    expect(ok.every((r) => r.body.ok === true)).toBe(true);
    for (const r of limited) {
      expect(r.body).toMatchObject({ code: 'rate_limited', limit: 'reads', message: expect.stringContaining('30') as unknown });
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(r.body.retryAfterSeconds).toBe(Number(r.headers.get('retry-after')));
    }
    expect(globexPages.map((r) => r.status)).toEqual([200, 200, 200]);
    await expectRecorded('globex', recorded);
    expect(await rowCount('globex')).toBe(before + 5);

    // A full re-verification has its own, harder limit: one per hour per key here.
    const full = await flood(3, 3, () => get<{ code?: string; limit?: string }>(auditor.baseUrl, '/v1/tenants/acme/audit/verify?full=true', OPS_KEY));
    expect(full.map((r) => r.status).sort()).toEqual([200, 429, 429]);
    expect(full.find((r) => r.status === 429)?.body).toMatchObject({ code: 'rate_limited', limit: 'full_verify' });
  });

  it('records events while every read connection is stuck behind a verification', async () => {
    const reads = auditor.app.get(AuditReadService);
    // More than the appenders' pool (10) too: were the reads on that pool, recording would stall here.
    const tenants = Array.from({ length: 12 }, (_, i) => `hostage-${i}`);
    for (const t of tenants) {
      await admin.query(`SELECT auditor.append_audit_entry($1, $2, 'incident.opened', now(), 'detector', 'incident.open', 'info', '{}'::jsonb, 'test', NULL, NULL, NULL, '{}'::jsonb)`, [t, `seed-${t}`]);
    }
    // Hold the verified points: each verification's first read waits on them, holding a read connection.
    await admin.query('BEGIN');
    await admin.query('LOCK TABLE auditor.verify_points IN ACCESS EXCLUSIVE MODE');
    let verifies: Promise<unknown>[] = [];
    try {
      // Many keys and tenants at once (the limiter is per key; verifications of one tenant share one pass):
      // more verifications than the read pool has connections.
      verifies = tenants.map((t, i) => reads.verify(t, { actor: `ak_flood_${i}`, source: 'test', scope: { kind: 'all' } }));
      await expectEventually(async () => {
        const { rows } = await admin.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'autoheal-auditor-reads' AND wait_event_type = 'Lock'`,
          [db.name],
        );
        expect(Number(rows[0].n)).toBe(Number(LIMITS.AUDITOR_READ_POOL_SIZE));
      });
      // Recording goes on through the appenders' own pool.
      await expectRecorded('globex', await recordViaNats('globex', 5));
    } finally {
      await admin.query('COMMIT');
    }
    expect(await Promise.all(verifies)).toEqual(Array.from({ length: tenants.length }, () => expect.objectContaining({ ok: true, checkedRows: 1 }) as unknown));
  });

  it('records repeated reads by one key as one row with the count', async () => {
    for (let i = 0; i < 12; i++) expect((await get(auditor.baseUrl, `/v1/tenants/globex/audit?limit=${i + 1}`, GLOBEX_KEY)).status).toBe(200);
    globexReads += 12;
    await auditor.app.get(AuditReadRecorder).flushAll();
    const mine = (await readRows('globex')).filter((r) => r.actor === apiKeyId(hashApiKey(GLOBEX_KEY)));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ outcome: 'success', payload: { count: globexReads, kinds: { list: globexReads } } });
    // The verifications of acme by acme's key: one row too, counting the 3 that passed and, apart, the 13 refused.
    const acme = (await readRows('acme')).filter((r) => r.actor === apiKeyId(hashApiKey(ACME_KEY)));
    expect(acme.map((r) => [r.outcome, r.payload.count, r.payload.kinds, r.payload.statuses])).toEqual(
      expect.arrayContaining([
        ['success', 3, { verify: 3 }, undefined],
        ['refused', 13, { verify: 13 }, { '429': 13 }],
      ]),
    );
    expect(acme).toHaveLength(2);
  });

  it("records a flood of forged keys in no tenant's trail (the system trail counts it), and nothing for tenants without a chain", async () => {
    const before = await rowCount('globex');
    const forged = await flood(200, 20, () => get(auditor.baseUrl, '/v1/tenants/globex/audit', `tnt_${randomBytes(18).toString('base64url')}`));
    expect(new Set(forged.map((r) => r.status))).toEqual(new Set([401]));
    const ghosts = await flood(200, 20, (i) => get(auditor.baseUrl, `/v1/tenants/ghost-${i}/audit/verify`, `tnt_${randomBytes(18).toString('base64url')}`));
    expect(new Set(ghosts.map((r) => r.status))).toEqual(new Set([401]));
    await auditor.app.get(AuditReadRecorder).flushAll();

    // The tenant a refused request names is the caller's claim: nothing lands in its trail.
    expect(await rowCount('globex')).toBe(before);
    const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM auditor.audit_log WHERE tenant_id LIKE 'ghost-%'`);
    expect(rows[0].n).toBe('0');
  });

  it('starts no chain when a tenant without one is read, and answers a foreign key the same whether the tenant exists or not', async () => {
    const empty = await get(auditor.baseUrl, '/v1/tenants/nobody-yet/audit', OPS_KEY);
    expect(empty).toMatchObject({ status: 200, body: { items: [], nextCursor: null } });
    const verified = await get(auditor.baseUrl, '/v1/tenants/nobody-yet/audit/verify', OPS_KEY);
    expect(verified).toMatchObject({ status: 200, body: { ok: true, checkedRows: 0, headSeq: 0, firstBreak: null } });
    await auditor.app.get(AuditReadRecorder).flushAll();
    expect(await rowCount('nobody-yet')).toBe(0);
    expect((await admin.query(`SELECT * FROM auditor.verify_points WHERE tenant_id = 'nobody-yet'`)).rows).toEqual([]);

    const existing = await get(auditor.baseUrl, '/v1/tenants/globex/audit', ACME_KEY);
    const missing = await get(auditor.baseUrl, '/v1/tenants/nobody-yet/audit', ACME_KEY);
    expect(missing.status).toBe(existing.status);
    expect(missing.body).toEqual(existing.body);
    await auditor.app.get(AuditReadRecorder).flushAll();
    expect(await rowCount('nobody-yet')).toBe(0);
  });

  describe('row-level security', () => {
    let asReader: Client;
    let asWriter: Client;

    beforeAll(async () => {
      asReader = new Client({ connectionString: db.roleUrl('auditorReader') });
      asWriter = new Client({ connectionString: db.roleUrl('auditor') });
      await Promise.all([asReader.connect(), asWriter.connect()]);
    });

    afterAll(async () => {
      await asReader?.end();
      await asWriter?.end();
    });

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
      (await client.query<{ tenant_id: string }>(`SELECT DISTINCT tenant_id FROM auditor.${table} ORDER BY 1`)).rows.map((r) => r.tenant_id);

    it('logs the reader in as its own role, which cannot bypass row-level security or become another role', async () => {
      expect((await asReader.query<{ u: string }>('SELECT current_user AS u')).rows[0].u).toBe('autoheal_auditor_reader');
      const { rows } = await admin.query(
        `SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication, rolcanlogin FROM pg_roles WHERE rolname = 'autoheal_auditor_reader'`,
      );
      expect(rows).toEqual([{ rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false, rolreplication: false, rolcanlogin: true }]);
      const { rows: tables } = await admin.query<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }>(
        `SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid IN ('auditor.audit_log'::regclass, 'auditor.verify_points'::regclass) ORDER BY relname`,
      );
      expect(tables).toEqual([
        { relname: 'audit_log', relrowsecurity: true, relforcerowsecurity: false },
        { relname: 'verify_points', relrowsecurity: true, relforcerowsecurity: false },
      ]);
      for (const sql of ['SET ROLE autoheal_auditor', 'SET ROLE autoheal_owner', 'SET row_security = off; SELECT 1 FROM auditor.audit_log LIMIT 1']) {
        await expect(asReader.query(sql)).rejects.toThrow(/permission denied to set role|query would be affected by row-level security policy/);
      }
    });

    it("shows a deliberately unfiltered query only the credential's tenant, and nothing without one", async () => {
      const all = (await admin.query<{ tenant_id: string }>(`SELECT DISTINCT tenant_id FROM auditor.audit_log ORDER BY 1`)).rows.map((r) => r.tenant_id);
      expect(all).toEqual(expect.arrayContaining(['acme', 'globex']));
      const globexRows = await rowCount('globex');
      await inTransaction(asReader, { 'autoheal.tenant_id': 'globex' }, async () => {
        const { rows } = await asReader.query<{ tenant_id: string }>('SELECT * FROM auditor.audit_log');
        expect(rows.length).toBe(globexRows);
        expect(new Set(rows.map((r) => r.tenant_id))).toEqual(new Set(['globex']));
        expect(await tenantsSeen(asReader, 'verify_points')).toEqual(expect.not.arrayContaining(['acme']));
      });
      await inTransaction(asReader, { 'autoheal.tenant_id': 'acme' }, async () => expect(await tenantsSeen(asReader, 'verify_points')).toEqual(['acme']));
      expect(await tenantsSeen(asReader, 'audit_log')).toEqual([]);
      expect(await tenantsSeen(asReader, 'verify_points')).toEqual([]);
      // Transaction-local: gone once the transaction ends.
      expect(await tenantsSeen(asReader, 'audit_log')).toEqual([]);
      await inTransaction(asReader, { 'autoheal.tenant_scope': '*' }, async () => expect(await tenantsSeen(asReader, 'audit_log')).toEqual(all));
      // The service role is held the same way.
      expect(await tenantsSeen(asWriter, 'audit_log')).toEqual([]);
    });

    it('holds the API to the credential even where a check is forgotten: a tenant scope reads nothing of another tenant', async () => {
      const reads = auditor.app.get(AuditReadService);
      const page = await reads.list('globex', { limit: 500 }, { actor: 'ak_rls_probe', source: 'test', scope: { kind: 'tenant', tenantId: 'acme' } });
      expect(page.items).toEqual([]);
      const report = await reads.verify('globex', { actor: 'ak_rls_probe', source: 'test', scope: { kind: 'tenant', tenantId: 'acme' } });
      expect(report).toMatchObject({ headSeq: 0, checkedRows: 0 });
    });

    it.each([
      ['INSERT into audit_log', `INSERT INTO auditor.audit_log (tenant_id, seq, event_id, event_type, occurred_at, recorded_at, actor, action, resource, outcome, source, payload, prev_hash, hash)
         VALUES ('globex', 999999, 'forged', 'x', now(), now(), 'm', 'm', '{}', 'info', 'm', '{}', repeat('a', 64), repeat('a', 64))`, /permission denied for table audit_log/],
      ['UPDATE audit_log', `UPDATE auditor.audit_log SET actor = 'mallory'`, /permission denied for table audit_log/],
      ['DELETE audit_log', `DELETE FROM auditor.audit_log`, /permission denied for table audit_log/],
      ['INSERT a verified point', `INSERT INTO auditor.verify_points VALUES ('globex', 1, repeat('a', 64), now())`, /permission denied for table verify_points/],
      ['UPDATE a verified point', `UPDATE auditor.verify_points SET seq = 1`, /permission denied for table verify_points/],
      ['read api_keys', `SELECT * FROM auditor.api_keys`, /permission denied for table api_keys/],
      ['read the inbox', `SELECT * FROM auditor.inbox`, /permission denied for table inbox/],
      ['append through the function', `SELECT * FROM auditor.append_audit_entry('globex', 'forged', 'x', now(), 'm', 'm', 'info', '{}'::jsonb, 'm', NULL, NULL, NULL, '{}'::jsonb)`, /permission denied for function append_audit_entry/],
      ['read another schema', `SELECT * FROM decision.tenants`, /permission denied for schema decision/],
    ])('refuses the reader role to %s, without effect', async (_name, sql, refused) => {
      const before = (await admin.query(`SELECT count(*) AS n, max(hash) AS h FROM auditor.audit_log`)).rows;
      const points = (await admin.query(`SELECT * FROM auditor.verify_points ORDER BY tenant_id`)).rows;
      await inTransaction(asReader, { 'autoheal.tenant_scope': '*' }, async () => {
        await expect(asReader.query(sql)).rejects.toThrow(refused);
      });
      expect((await admin.query(`SELECT count(*) AS n, max(hash) AS h FROM auditor.audit_log`)).rows).toEqual(before);
      expect((await admin.query(`SELECT * FROM auditor.verify_points ORDER BY tenant_id`)).rows).toEqual(points);
    });

    it("refuses the service role a verified point in a tenant its transaction does not name", async () => {
      await inTransaction(asWriter, { 'autoheal.tenant_id': 'globex' }, async () => {
        await expect(asWriter.query(`INSERT INTO auditor.verify_points VALUES ('intruded', 1, repeat('a', 64), now())`)).rejects.toThrow(/row-level security/);
      });
      expect((await admin.query(`SELECT * FROM auditor.verify_points WHERE tenant_id = 'intruded'`)).rows).toEqual([]);
    });
  });

  describe('closing windows', () => {
    it('appends a window when it closes, and what is open at shutdown', async () => {
      const marker = randomUUID();
      const short = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url, extraEnv: { AUDITOR_READ_RECORD_WINDOW_SECONDS: '0.5' } });
      try {
        for (let i = 0; i < 5; i++) expect((await get(short.baseUrl, `/v1/tenants/globex/audit?correlationId=${marker}`, OPS_KEY)).status).toBe(200);
        const marked = async () => (await readRows('globex')).filter((r) => JSON.stringify(r.payload.queries ?? []).includes(marker));
        // The timer closes windows without a flush: the five reads end up counted, in far fewer rows than reads.
        await expectEventually(async () => expect((await marked()).reduce((n, r) => n + r.payload.count, 0)).toBe(5), { timeoutMs: 30_000 });
        expect((await marked()).length).toBeLessThan(5);
      } finally {
        await short.stop();
      }

      const late = randomUUID();
      const long = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url, extraEnv: { AUDITOR_READ_RECORD_WINDOW_SECONDS: '3600' } });
      for (let i = 0; i < 4; i++) expect((await get(long.baseUrl, `/v1/tenants/globex/audit?correlationId=${late}`, OPS_KEY)).status).toBe(200);
      await long.stop();
      const atShutdown = (await readRows('globex')).filter((r) => JSON.stringify(r.payload.queries ?? []).includes(late));
      expect(atShutdown.map((r) => r.payload.count)).toEqual([4]);
    });
  });
});
