import { randomUUID } from 'node:crypto';
import { subjectFor } from '@autoheal/contracts';
import { createTestDatabase, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { ACME_KEY, GLOBEX_KEY, incidentOpened, OPS_KEY, remediationSucceeded, startAuditor, type RunningAuditor } from '../test-support/auditor';
import { apiKeyId, hashApiKey } from '../api-keys/api-key';
import { AuditLogService } from './audit-log.service';
import { AuditReadRecorder } from './audit-read-recorder';

interface ErrorBody {
  code: string;
  message: string;
  fields: { field: string; messages: string[] }[];
}

interface Page {
  items: Item[];
  nextCursor: string | null;
}

interface VerifyBody {
  tenantId: string;
  ok: boolean;
  checkedRows: number;
  headSeq: number;
  headHash: string;
  firstBreak: unknown;
}

interface OpenApiOperation {
  responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
  parameters: { name: string }[];
}

interface OpenApiDoc {
  paths: Record<string, { get: OpenApiOperation }>;
  components: { schemas: Record<string, { properties: Record<string, unknown> }>; securitySchemes: Record<string, unknown> };
}

interface Item {
  seq: number;
  outcome: string;
  eventId: string;
  eventType: string;
  actor: string;
  correlationId: string | null;
  occurredAt: string;
  payload: Record<string, unknown>;
  source: string;
}

describe('audit REST API (real Postgres, in-process app)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let auditor: RunningAuditor;
  const incidentA = randomUUID();
  const incidentB = randomUUID();

  async function get<T = Page>(path: string, key?: string): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await fetch(`${auditor.baseUrl}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    return { status: res.status, body: (await res.json()) as T, headers: res.headers };
  }

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    auditor = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url });
    const service = auditor.app.get(AuditLogService);
    // 7 domain events for acme over two incidents, 1 for globex, in a known order.
    const acme = [
      incidentOpened('acme', incidentA),
      remediationSucceeded('acme', incidentA),
      incidentOpened('acme', incidentB, 'api-2'),
      remediationSucceeded('acme', incidentB),
      incidentOpened('acme', randomUUID(), 'api-3'),
      incidentOpened('acme', randomUUID(), 'api-4'),
      remediationSucceeded('acme', incidentA),
    ];
    for (const e of [...acme, incidentOpened('globex')]) await service.recordEvent(e, { subject: subjectFor(e) });
  });

  afterAll(async () => {
    await auditor?.stop();
    await db?.drop();
    await nats?.stop();
  });

  describe('authentication and tenant scope', () => {
    it('refuses a request without a key (401, WWW-Authenticate)', async () => {
      const res = await get<ErrorBody>('/v1/tenants/acme/audit');
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: 'missing_api_key' });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });

    it('refuses an unknown key (401)', async () => {
      const res = await get<ErrorBody>('/v1/tenants/acme/audit', 'tnt_not_a_real_key_000000000');
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: 'unknown_api_key' });
    });

    it("refuses a tenant key reading another tenant's log (403), for list and verify", async () => {
      expect(await get<ErrorBody>('/v1/tenants/globex/audit', ACME_KEY)).toMatchObject({ status: 403, body: { code: 'tenant_forbidden' } });
      expect(await get('/v1/tenants/acme/audit/verify', GLOBEX_KEY)).toMatchObject({ status: 403 });
    });

    it('lets a tenant key read its own log and the ops key read any', async () => {
      expect((await get('/v1/tenants/acme/audit', ACME_KEY)).status).toBe(200);
      expect((await get('/v1/tenants/globex/audit', GLOBEX_KEY)).status).toBe(200);
      expect((await get('/v1/tenants/acme/audit', OPS_KEY)).status).toBe(200);
      expect((await get('/v1/tenants/globex/audit/verify', OPS_KEY)).status).toBe(200);
    });
  });

  describe('validation', () => {
    it.each([
      ['limit=abc', 'limit'],
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['from=yesterday', 'from'],
      ['to=2025-13-01T00:00:00Z', 'to'],
      ['type=remediation.*', 'type'],
      ['cursor=not-a-cursor', 'cursor'],
      ['from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z', 'from'],
      ['colour=blue', 'colour'],
    ])('?%s → 400 naming %s', async (query, field) => {
      const res = await get<ErrorBody>(`/v1/tenants/acme/audit?${query}`, OPS_KEY);
      expect(res.status).toBe(400);
      expect(res.body.message).toContain(field);
      expect(res.body.fields.map((f) => f.field)).toContain(field);
    });

    it('refuses a tenant id that is not a subject token', async () => {
      const res = await get<ErrorBody>('/v1/tenants/ac.me/audit', OPS_KEY);
      expect(res.status).toBe(400);
      expect(res.body.message).toContain('tenantId');
    });
  });

  describe('listing', () => {
    const domainOnly = (items: Item[]) => items.filter((i) => !i.eventType.startsWith('audit.'));

    it('walks every row exactly once, in seq order, page by page', async () => {
      const seen: Item[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = `?limit=3&type=incident.${cursor ? `&cursor=${cursor}` : ''}`;
        const res = await get(`/v1/tenants/acme/audit${query}`, OPS_KEY);
        expect(res.status).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(3);
        seen.push(...res.body.items);
        cursor = res.body.nextCursor;
        pages++;
      } while (cursor && pages < 20);
      expect(seen.map((i) => i.eventType)).toEqual(Array(4).fill('incident.opened'));
      const seqs = seen.map((i) => i.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seen.map((i) => i.eventId)).size).toBe(4);
      expect(pages).toBe(2);
    });

    it('walks an unfiltered log including rows appended while paging, each once', async () => {
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const res: { body: Page } = await get(`/v1/tenants/acme/audit?limit=2${cursor ? `&cursor=${cursor}` : ''}`, OPS_KEY);
        seen.push(...res.body.items.map((i) => i.seq));
        cursor = res.body.nextCursor;
      } while (cursor && seen.length < 500);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i + 1));
    });

    it('filters by exact type, type prefix and correlation id', async () => {
      const exact = await get('/v1/tenants/acme/audit?type=remediation.succeeded', OPS_KEY);
      expect(exact.body.items.map((i) => i.eventType)).toEqual(Array(3).fill('remediation.succeeded'));
      const prefix = await get('/v1/tenants/acme/audit?type=remediation.', OPS_KEY);
      expect(prefix.body.items).toHaveLength(3);
      const correlated = await get(`/v1/tenants/acme/audit?correlationId=${incidentA}`, OPS_KEY);
      expect(correlated.body.items.map((i) => [i.eventType, i.correlationId])).toEqual([
        ['incident.opened', incidentA],
        ['remediation.succeeded', incidentA],
        ['remediation.succeeded', incidentA],
      ]);
    });

    it('filters by occurred_at range (from inclusive, to exclusive)', async () => {
      const all = domainOnly((await get('/v1/tenants/acme/audit?limit=500', OPS_KEY)).body.items);
      const pivot = all[3].occurredAt;
      const after = domainOnly((await get(`/v1/tenants/acme/audit?limit=500&from=${pivot}`, OPS_KEY)).body.items);
      const before = domainOnly((await get(`/v1/tenants/acme/audit?limit=500&to=${pivot}`, OPS_KEY)).body.items);
      expect(after.every((i) => i.occurredAt >= pivot)).toBe(true);
      expect(before.every((i) => i.occurredAt < pivot)).toBe(true);
      expect(after.length + before.length).toBe(all.length);
    });

    it('records the reads of one key in the tenant chain as one row with a count, the key id and the queries', async () => {
      const marker = randomUUID();
      for (let i = 0; i < 3; i++) expect((await get(`/v1/tenants/globex/audit?correlationId=${marker}`, GLOBEX_KEY)).status).toBe(200);
      await auditor.app.get(AuditReadRecorder).flushAll();
      const reads = (await get('/v1/tenants/globex/audit?type=audit.read&limit=500', OPS_KEY)).body.items;
      const mine = reads.filter((r) => r.actor === apiKeyId(hashApiKey(GLOBEX_KEY)));
      // One row: the three reads above and the one of 'authentication and tenant scope', in one window.
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ eventType: 'audit.read', outcome: 'success' });
      expect(mine[0].payload).toMatchObject({ count: 4, kinds: { list: 4 }, windowSeconds: 60, returnedItems: 1 });
      expect(mine[0].payload.queries).toEqual(expect.arrayContaining([{ limit: 50, correlationId: marker }]));
      expect(mine[0].source).toMatch(/^GET \/v1\/tenants\/globex\/audit from /);
      // A refused read (another tenant's key) lands in no tenant's trail: the system trail counts it.
      expect(reads.filter((r) => r.outcome === 'refused')).toEqual([]);
      expect(reads.some((r) => r.actor === apiKeyId(hashApiKey(ACME_KEY)))).toBe(false);
    });
  });

  it('verifies the chain, reads included', async () => {
    const res = await get<VerifyBody>('/v1/tenants/acme/audit/verify', ACME_KEY);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tenantId: 'acme', ok: true, firstBreak: null });
    expect(res.body.checkedRows).toBe(res.body.headSeq);
    expect(res.body.headHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('serves the OpenAPI document with every response shape', async () => {
    const res = await fetch(`${auditor.baseUrl}/docs-json`);
    const doc = (await res.json()) as OpenApiDoc;
    const list = doc.paths['/v1/tenants/{tenantId}/audit'].get;
    expect(Object.keys(list.responses).sort()).toEqual(['200', '400', '401', '403', '429']);
    expect(list.parameters.map((p) => p.name).sort()).toEqual(['correlationId', 'cursor', 'from', 'limit', 'tenantId', 'to', 'type']);
    expect(doc.components.schemas.AuditPageDto.properties).toHaveProperty('nextCursor');
    expect(doc.components.securitySchemes).toHaveProperty('bearer');
    expect(doc.paths['/v1/tenants/{tenantId}/audit/verify'].get.responses['200'].content?.['application/json'].schema.$ref).toContain('VerifyResultDto');
    expect(doc.paths['/v1/tenants/{tenantId}/audit/verify'].get.parameters.map((p) => p.name).sort()).toEqual(['full', 'tenantId']);
  });
});
