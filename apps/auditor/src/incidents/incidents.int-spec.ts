/**
 * The incident views against a real Postgres and nats-server: a history published on the bus as
 * its producers would, recorded by the auditor, then read back over HTTP — lists, filters,
 * pagination, timelines — and tried as another tenant's key would.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { newEvent, type Envelope } from '@autoheal/contracts';
import { closeNats, connectNats } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, publishSigned, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { apiKeyId, hashApiKey } from '../api-keys/api-key';
import { auditLogRepository } from '../audit-log/audit-log.repository';
import { AUDIT_READ_DB } from '../audit-log/audit-read-pool';
import { AuditReadRecorder } from '../audit-log/audit-read-recorder';
import { ACME_KEY, GLOBEX_KEY, OPS_KEY, startAuditor, type RunningAuditor } from '../test-support/auditor';
import { incidentsRepository } from './incidents.repository';

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
interface IncidentItem {
  incidentId: string;
  service: string;
  instance: string;
  kind: string;
  status: string;
  openedAt: string;
  resolvedAt: string | null;
}
interface RemediationItem {
  remediationId: string;
  incidentId: string;
  action: string | null;
  status: string;
  outcome: string;
}
interface ApprovalItem {
  remediationId: string;
  action: string;
  expiresAt: string;
}
interface TimelineBody {
  incidentId: string;
  status: string;
  signalAt: string | null;
  detectionMs: number | null;
  openedAt: string;
  verifiedAt: string | null;
  openedToVerifiedMs: number | null;
  truncated: boolean;
  entries: { eventType: string; remediationId: string | null; sincePreviousMs: number; sinceOpenedMs: number }[];
}
interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  fields?: { field: string; messages: string[] }[];
}

/** A fixed past instant every event of the history is placed from, so durations are known. */
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms);
const iso = (ms: number) => at(ms).toISOString();
const FAR_FUTURE = '2099-01-01T00:00:00.000Z';

const explanation = { policyVersion: 'p1', reason: 'policy says so', candidates: [] };

function opened(tenantId: string, incidentId: string, service: string, instance: string, kind: 'heartbeat_missed' | 'error_rate' | 'latency' | 'crashed' | 'saturation', ms: number) {
  return newEvent('incident.opened', {
    tenantId,
    producer: 'detector',
    correlationId: incidentId,
    occurredAt: at(ms),
    data: { incidentId, service, instance, kind, severity: 'major', signalAt: iso(ms - 2_000), detectedAt: iso(ms), detectionLatencyMs: 2_000, evidence: {} },
  });
}

interface Target {
  tenantId: string;
  incidentId: string;
  remediationId: string;
  service: string;
  instance: string;
  action: 'restart' | 'replace' | 'failover' | 'rollback';
}

const meta = (t: Target, producer: string, ms: number) => ({ tenantId: t.tenantId, producer, correlationId: t.incidentId, occurredAt: at(ms) });
const target = (t: Target) => ({ remediationId: t.remediationId, incidentId: t.incidentId, service: t.service, instance: t.instance, action: t.action });

const planned = (t: Target, ms: number) => newEvent('remediation.planned', { ...meta(t, 'decision', ms), data: { ...target(t), ...explanation } });
const awaiting = (t: Target, ms: number, expiresAt: string) =>
  newEvent('remediation.awaiting_approval', { ...meta(t, 'decision', ms), data: { ...target(t), ...explanation, expiresAt } });
const approved = (t: Target, ms: number) => newEvent('remediation.approved', { ...meta(t, 'decision', ms), data: { ...target(t), approvedBy: 'alice@example.com' } });
const started = (t: Target, ms: number) => newEvent('remediation.started', { ...meta(t, 'executor', ms), data: { ...target(t), executor: 'executor-1' } });
const succeeded = (t: Target, ms: number) => newEvent('remediation.succeeded', { ...meta(t, 'executor', ms), data: { ...target(t), durationMs: 3_000, details: {} } });
const verified = (t: Target, ms: number, executedMs: number) =>
  newEvent('remediation.verified', { ...meta(t, 'decision', ms), data: { ...target(t), verifiedBy: 'incident_resolved', executedAt: iso(executedMs), timeToRemediateMs: ms } });
const escalated = (t: Target, ms: number) =>
  newEvent('remediation.escalated', { ...meta(t, 'decision', ms), data: { incidentId: t.incidentId, remediationId: t.remediationId, service: t.service, instance: t.instance, ...explanation } });
const resolved = (t: Target, ms: number, openedMs: number) =>
  newEvent('incident.resolved', {
    ...meta(t, 'detector', ms),
    data: { incidentId: t.incidentId, service: t.service, instance: t.instance, kind: 'heartbeat_missed', resolvedAt: iso(ms), reason: 'heartbeats resumed', durationMs: ms - openedMs },
  });

describe('incident views (real Postgres and nats-server)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let admin: Client;
  let nc: NatsConnection;
  let auditor: RunningAuditor;

  const ids = { i1: randomUUID(), i2: randomUUID(), i3: randomUUID(), i4: randomUUID(), g1: randomUUID() };
  const workers = Array.from({ length: 7 }, () => randomUUID());
  const r1: Target = { tenantId: 'acme', incidentId: ids.i1, remediationId: randomUUID(), service: 'api', instance: 'api-1', action: 'restart' };
  const r2: Target = { tenantId: 'acme', incidentId: ids.i2, remediationId: randomUUID(), service: 'api', instance: 'api-2', action: 'replace' };
  const r3: Target = { tenantId: 'acme', incidentId: ids.i3, remediationId: randomUUID(), service: 'db', instance: 'db-1', action: 'failover' };
  /** Asked for approval, never answered, and expired: not pending. */
  const r5: Target = { tenantId: 'acme', incidentId: ids.i3, remediationId: randomUUID(), service: 'db', instance: 'db-1', action: 'rollback' };
  const r4: Target = { tenantId: 'acme', incidentId: ids.i4, remediationId: randomUUID(), service: 'db', instance: 'db-2', action: 'rollback' };
  const g1: Target = { tenantId: 'globex', incidentId: ids.g1, remediationId: randomUUID(), service: 'api', instance: 'api-1', action: 'failover' };

  async function get<T>(path: string, key: string = OPS_KEY): Promise<{ status: number; body: T }> {
    const res = await fetch(`${auditor.baseUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, body: (await res.json()) as T };
  }

  async function publishAll(events: Envelope[]): Promise<void> {
    for (const event of events) await publishSigned(nc, auditor.keys, event);
    const wanted = events.map((e) => e.id);
    await expectEventually(
      async () => {
        const { rows } = await admin.query<{ event_id: string }>(`SELECT event_id FROM auditor.audit_log WHERE event_id = ANY($1)`, [wanted]);
        expect(rows.map((r) => r.event_id).sort()).toEqual([...wanted].sort());
      },
      { timeoutMs: 60_000 },
    );
  }

  /** Every page of a list, following nextCursor; fails on a cursor that repeats. */
  async function allPages<T>(path: string, startCursor: string | null = null): Promise<{ items: T[]; pages: number }> {
    const items: T[] = [];
    let cursor: string | null = startCursor;
    let pages = 0;
    const seen = new Set<string>();
    do {
      const sep = path.includes('?') ? '&' : '?';
      const res: { status: number; body: Page<T> } = await get<Page<T>>(`${path}${cursor ? `${sep}cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      items.push(...res.body.items);
      pages += 1;
      cursor = res.body.nextCursor;
      if (cursor !== null) {
        expect(seen.has(cursor)).toBe(false);
        seen.add(cursor);
      }
    } while (cursor !== null && pages < 50);
    return { items, pages };
  }

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    admin = new Client({ connectionString: db.url });
    await admin.connect();
    // A read budget no test here reaches (the limits are tried in audit-read-isolation.int-spec.ts).
    auditor = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url, extraEnv: { AUDITOR_READ_BURST: '1000', AUDITOR_READ_RATE_PER_MINUTE: '6000' } });
    nc = await connectNats({ servers: nats.url, name: 'incidents-int-spec' });
    await publishAll([
      // i1: opened → planned → started → succeeded → resolved → verified
      opened('acme', ids.i1, 'api', 'api-1', 'heartbeat_missed', 0),
      planned(r1, 1_000),
      started(r1, 2_000),
      succeeded(r1, 5_000),
      resolved(r1, 6_000, 0),
      verified(r1, 7_000, 5_000),
      // i2: planned, then escalated
      opened('acme', ids.i2, 'api', 'api-2', 'error_rate', 10_000),
      planned(r2, 11_000),
      escalated(r2, 12_000),
      // i3: awaiting approval (and an older request that expired unanswered)
      opened('acme', ids.i3, 'db', 'db-1', 'latency', 20_000),
      awaiting(r3, 21_000, FAR_FUTURE),
      awaiting(r5, 22_000, iso(25_000)),
      // i4: asked, approved, started
      opened('acme', ids.i4, 'db', 'db-2', 'crashed', 30_000),
      awaiting(r4, 31_000, FAR_FUTURE),
      approved(r4, 32_000),
      started(r4, 33_000),
      ...workers.map((id, i) => opened('acme', id, 'worker', `w-${i}`, 'saturation', 40_000 + i * 1_000)),
      // globex: its own incident and a pending approval
      opened('globex', ids.g1, 'api', 'api-1', 'heartbeat_missed', 0),
      awaiting(g1, 1_000, FAR_FUTURE),
    ]);
  }, 180_000);

  afterAll(async () => {
    await auditor?.stop();
    if (nc) await closeNats(nc);
    await admin?.end();
    await db?.drop();
    await nats?.stop();
  });

  const acmeIncidentsNewestFirst = () => [...[...workers].reverse(), ids.i4, ids.i3, ids.i2, ids.i1];

  describe('GET /v1/tenants/{tenantId}/incidents', () => {
    it("lists the tenant's incidents newest first, each with its status", async () => {
      const res = await get<Page<IncidentItem>>('/v1/tenants/acme/incidents');
      expect(res.status).toBe(200);
      expect(res.body.items.map((i) => i.incidentId)).toEqual(acmeIncidentsNewestFirst());
      expect(res.body.nextCursor).toBeNull();
      expect(res.body.items.find((i) => i.incidentId === ids.i1)).toMatchObject({ status: 'resolved', resolvedAt: iso(6_000), openedAt: iso(0), kind: 'heartbeat_missed', service: 'api', instance: 'api-1' });
      expect(res.body.items.filter((i) => i.status === 'open')).toHaveLength(10);
    });

    it.each([
      ['status=resolved', () => [ids.i1]],
      ['status=open&service=api', () => [ids.i2]],
      ['kind=latency', () => [ids.i3]],
      ['service=db', () => [ids.i4, ids.i3]],
      ['instance=api-2', () => [ids.i2]],
      [`from=${iso(10_000)}&to=${iso(30_000)}`, () => [ids.i3, ids.i2]],
      [`service=worker&from=${iso(45_000)}`, () => [workers[6], workers[5]]],
      ['service=nothing-here', () => []],
    ])('filters by %s', async (query, expected) => {
      const res = await get<Page<IncidentItem>>(`/v1/tenants/acme/incidents?${query}`);
      expect(res.status).toBe(200);
      expect(res.body.items.map((i) => i.incidentId)).toEqual(expected());
    });

    it('pages without duplicates or gaps, filtered or not, also when incidents open between pages', async () => {
      const whole = await allPages<IncidentItem>('/v1/tenants/acme/incidents?limit=3');
      expect(whole.items.map((i) => i.incidentId)).toEqual(acmeIncidentsNewestFirst());
      expect(whole.pages).toBe(4);
      const workersOnly = await allPages<IncidentItem>('/v1/tenants/acme/incidents?limit=2&service=worker&status=open');
      expect(workersOnly.items.map((i) => i.incidentId)).toEqual([...workers].reverse());

      const first = await get<Page<IncidentItem>>('/v1/tenants/acme/incidents?limit=4');
      const late = randomUUID();
      await publishAll([opened('acme', late, 'late', 'late-1', 'crashed', 90_000)]);
      const rest = await allPages<IncidentItem>('/v1/tenants/acme/incidents?limit=4', first.body.nextCursor);
      expect([...first.body.items, ...rest.items].map((i) => i.incidentId)).toEqual(acmeIncidentsNewestFirst());
      expect((await get<Page<IncidentItem>>('/v1/tenants/acme/incidents?limit=1')).body.items[0].incidentId).toBe(late);
    });
  });

  describe('GET /v1/tenants/{tenantId}/incidents/{incidentId}/timeline', () => {
    it('returns every event of the incident in order, with the time since the previous one and since the opening', async () => {
      const res = await get<TimelineBody>(`/v1/tenants/acme/incidents/${ids.i1}/timeline`);
      expect(res.status).toBe(200);
      expect(res.body.entries.map((e) => [e.eventType, e.sincePreviousMs, e.sinceOpenedMs])).toEqual([
        ['incident.opened', 0, 0],
        ['remediation.planned', 1_000, 1_000],
        ['remediation.started', 1_000, 2_000],
        ['remediation.succeeded', 3_000, 5_000],
        ['incident.resolved', 1_000, 6_000],
        ['remediation.verified', 1_000, 7_000],
      ]);
      expect(res.body.entries.filter((e) => e.remediationId === r1.remediationId)).toHaveLength(4);
      expect(res.body).toMatchObject({
        incidentId: ids.i1,
        status: 'resolved',
        signalAt: iso(-2_000),
        detectionMs: 2_000,
        openedAt: iso(0),
        verifiedAt: iso(7_000),
        openedToVerifiedMs: 7_000,
        truncated: false,
      });
    });

    it('shows an escalated incident as open, its escalation last', async () => {
      const res = await get<TimelineBody>(`/v1/tenants/acme/incidents/${ids.i2}/timeline`);
      expect(res.body.entries.map((e) => e.eventType)).toEqual(['incident.opened', 'remediation.planned', 'remediation.escalated']);
      expect(res.body).toMatchObject({ status: 'open', verifiedAt: null, openedToVerifiedMs: null });
    });

    it('answers 404 naming the id for an incident the trail does not hold, 400 naming the field for one that is not an id', async () => {
      const unknown = randomUUID();
      const res = await get<ErrorBody>(`/v1/tenants/acme/incidents/${unknown}/timeline`);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: 'incident_not_found', fields: [{ field: 'incidentId' }] });
      expect(res.body.message).toContain(unknown);
      const bad = await get<ErrorBody>('/v1/tenants/acme/incidents/not-an-id/timeline');
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toContain('incidentId');
    });
  });

  describe('GET /v1/tenants/{tenantId}/remediations', () => {
    it('lists remediations newest first, each with the status of its latest event', async () => {
      const res = await get<Page<RemediationItem>>('/v1/tenants/acme/remediations');
      expect(res.status).toBe(200);
      expect(res.body.items.map((r) => [r.remediationId, r.status, r.action])).toEqual([
        [r4.remediationId, 'started', 'rollback'],
        [r5.remediationId, 'awaiting_approval', 'rollback'],
        [r3.remediationId, 'awaiting_approval', 'failover'],
        [r2.remediationId, 'escalated', 'replace'],
        [r1.remediationId, 'verified', 'restart'],
      ]);
      expect(res.body.items[4]).toMatchObject({ incidentId: ids.i1, outcome: 'success' });
      expect(res.body.items[3]).toMatchObject({ outcome: 'refused' });
    });

    it.each([
      ['status=verified', () => [r1]],
      ['status=escalated', () => [r2]],
      ['status=awaiting_approval', () => [r5, r3]],
      ['status=executed', () => []],
      ['action=failover', () => [r3]],
      ['service=db&action=rollback', () => [r4, r5]],
      [`from=${iso(11_000)}&to=${iso(31_000)}`, () => [r5, r3, r2]],
    ])('filters by %s', async (query, expected) => {
      const res = await get<Page<RemediationItem>>(`/v1/tenants/acme/remediations?${query}`);
      expect(res.status).toBe(200);
      expect(res.body.items.map((r) => r.remediationId)).toEqual(expected().map((t) => t.remediationId));
    });

    it('pages without duplicates or gaps', async () => {
      const whole = await allPages<RemediationItem>('/v1/tenants/acme/remediations?limit=2');
      expect(whole.items.map((r) => r.remediationId)).toEqual([r4, r5, r3, r2, r1].map((t) => t.remediationId));
      expect(whole.pages).toBe(3);
    });
  });

  describe('GET /v1/tenants/{tenantId}/approvals/pending', () => {
    it('lists requests neither approved nor rejected since, and not expired', async () => {
      const res = await get<Page<ApprovalItem>>('/v1/tenants/acme/approvals/pending');
      expect(res.status).toBe(200);
      expect(res.body.items).toEqual([expect.objectContaining({ remediationId: r3.remediationId, action: 'failover', expiresAt: FAR_FUTURE })]);
      expect(res.body.nextCursor).toBeNull();
    });
  });

  describe('validation', () => {
    it.each([
      ['incidents?status=closed', 'status'],
      ['incidents?kind=meltdown', 'kind'],
      ['incidents?limit=0', 'limit'],
      ['incidents?limit=501', 'limit'],
      ['incidents?service=a%20b', 'service'],
      ['incidents?instance=a%2Fb', 'instance'],
      ['incidents?from=yesterday', 'from'],
      [`incidents?from=${iso(5)}&to=${iso(5)}`, 'from'],
      ['incidents?cursor=garbage', 'cursor'],
      ['incidents?tenant=globex', 'tenant'],
      ['remediations?status=done', 'status'],
      ['remediations?action=explode', 'action'],
      ['remediations?to=soon', 'to'],
      ['approvals/pending?limit=x', 'limit'],
      ['approvals/pending?cursor=c2VxOi0x', 'cursor'],
    ])('GET …/%s → 400 naming %s', async (query, field) => {
      const res = await get<ErrorBody>(`/v1/tenants/acme/${query}`);
      expect(res.status).toBe(400);
      expect(res.body.fields?.map((f) => f.field)).toContain(field);
    });
  });

  describe('tenant isolation, tried as an attacker', () => {
    const crossTenant = (tenant: string, incidentId: string) => [
      `/v1/tenants/${tenant}/incidents`,
      `/v1/tenants/${tenant}/incidents?status=open&limit=500`,
      `/v1/tenants/${tenant}/incidents/${incidentId}/timeline`,
      `/v1/tenants/${tenant}/remediations`,
      `/v1/tenants/${tenant}/approvals/pending`,
    ];

    it("answers acme's key on globex's views exactly as on a tenant that does not exist, and leaks nothing", async () => {
      const attack = crossTenant('globex', ids.g1);
      const control = crossTenant('no-such-tenant', ids.g1);
      for (let i = 0; i < attack.length; i++) {
        const [a, c] = await Promise.all([get<ErrorBody>(attack[i], ACME_KEY), get<ErrorBody>(control[i], ACME_KEY)]);
        expect(a).toEqual(c);
        expect(a.status).toBe(403);
        for (const secret of [ids.g1, g1.remediationId]) expect(JSON.stringify(a.body)).not.toContain(secret);
      }
    });

    it("answers acme's key asking for globex's incident under acme as for an unknown incident", async () => {
      const theirs = await get<ErrorBody>(`/v1/tenants/acme/incidents/${ids.g1}/timeline`, ACME_KEY);
      const unknownId = randomUUID();
      const unknown = await get<ErrorBody>(`/v1/tenants/acme/incidents/${unknownId}/timeline`, ACME_KEY);
      expect(theirs.status).toBe(404);
      expect({ ...theirs.body, message: theirs.body.message.replace(ids.g1, '<id>'), fields: undefined }).toEqual({
        ...unknown.body,
        message: unknown.body.message.replace(unknownId, '<id>'),
        fields: undefined,
      });
    });

    it("never shows globex's rows in acme's lists, nor acme's in globex's", async () => {
      const acme = JSON.stringify(
        await Promise.all(['incidents?limit=500', 'remediations?limit=500', 'approvals/pending?limit=500'].map((p) => get(`/v1/tenants/acme/${p}`, ACME_KEY))),
      );
      for (const secret of [ids.g1, g1.remediationId]) expect(acme).not.toContain(secret);
      const globex = await get<Page<ApprovalItem>>('/v1/tenants/globex/approvals/pending', GLOBEX_KEY);
      expect(globex.body.items.map((i) => i.remediationId)).toEqual([g1.remediationId]);
      const globexIncidents = await get<Page<IncidentItem>>('/v1/tenants/globex/incidents', GLOBEX_KEY);
      expect(globexIncidents.body.items.map((i) => i.incidentId)).toEqual([ids.g1]);
    });

    it("returns only the credential's tenant through the reader role, whatever tenant a query names or whether it names one", async () => {
      const readDb = auditor.app.get<DataSource>(AUDIT_READ_DB);
      const seen = await readDb.transaction(async (m) => {
        await auditLogRepository.setScope(m, { kind: 'tenant', tenantId: 'acme' }, 'acme');
        const user = await m.query<{ u: string }[]>(`SELECT current_user AS u`);
        const named = await incidentsRepository.incidents(m, 'globex', { beforeSeq: null, limit: 500 });
        const remediations = await incidentsRepository.remediations(m, 'globex', { beforeSeq: null, limit: 500 });
        const approvals = await incidentsRepository.pendingApprovals(m, 'globex', { beforeSeq: null, limit: 500, now: new Date() });
        const timeline = await incidentsRepository.incidentRows(m, 'globex', ids.g1, 500);
        const unfiltered = await m.query<{ tenant_id: string }[]>(`SELECT DISTINCT tenant_id FROM auditor.audit_log WHERE event_type = 'incident.opened' OR event_type LIKE 'remediation.%'`);
        return { user: user[0].u, named, remediations, approvals, timeline: timeline.rows, unfiltered: unfiltered.map((r) => r.tenant_id) };
      });
      expect(seen).toEqual({ user: 'autoheal_auditor_reader', named: [], remediations: [], approvals: [], timeline: [], unfiltered: ['acme'] });
    });
  });

  it("records the views' reads like audit reads: in the key's audit.read row, by kind", async () => {
    await get(`/v1/tenants/globex/incidents`, GLOBEX_KEY);
    await get(`/v1/tenants/globex/incidents/${ids.g1}/timeline`, GLOBEX_KEY);
    await get(`/v1/tenants/globex/remediations`, GLOBEX_KEY);
    await auditor.app.get(AuditReadRecorder).flushAll();
    const { rows } = await admin.query<{ payload: { kinds: Record<string, number> } }>(
      `SELECT payload FROM auditor.audit_log WHERE tenant_id = 'globex' AND event_type = 'audit.read' AND actor = $1`,
      [apiKeyId(hashApiKey(GLOBEX_KEY))],
    );
    const kinds = rows.reduce<Record<string, number>>((sum, r) => {
      for (const [k, n] of Object.entries(r.payload.kinds)) sum[k] = (sum[k] ?? 0) + n;
      return sum;
    }, {});
    expect(kinds.incidents).toBeGreaterThanOrEqual(2);
    expect([kinds.timeline, kinds.remediations, kinds.approvals]).toEqual([1, 1, 1]);
    // acme's key never read globex: nothing of it in globex's trail.
    const acmeRows = await admin.query(`SELECT 1 FROM auditor.audit_log WHERE tenant_id = 'globex' AND actor = $1`, [apiKeyId(hashApiKey(ACME_KEY))]);
    expect(acmeRows.rowCount).toBe(0);
  });

  it('documents the four routes in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${auditor.baseUrl}/docs-json`)).json()) as {
      paths: Record<string, { get: { responses: Record<string, unknown>; parameters: { name: string }[] } }>;
      components: { schemas: Record<string, unknown> };
    };
    expect(Object.keys(doc.paths['/v1/tenants/{tenantId}/incidents'].get.responses).sort()).toEqual(['200', '400', '401', '403', '429']);
    expect(doc.paths['/v1/tenants/{tenantId}/incidents'].get.parameters.map((p) => p.name).sort()).toEqual(
      ['cursor', 'from', 'instance', 'kind', 'limit', 'service', 'status', 'tenantId', 'to'],
    );
    expect(Object.keys(doc.paths['/v1/tenants/{tenantId}/incidents/{incidentId}/timeline'].get.responses)).toContain('404');
    expect(doc.paths['/v1/tenants/{tenantId}/remediations'].get.parameters.map((p) => p.name).sort()).toEqual(['action', 'cursor', 'from', 'limit', 'service', 'status', 'tenantId', 'to']);
    expect(doc.paths).toHaveProperty(['/v1/tenants/{tenantId}/approvals/pending']);
    for (const schema of ['IncidentPageDto', 'TimelineDto', 'RemediationPageDto', 'PendingApprovalPageDto']) expect(doc.components.schemas).toHaveProperty([schema]);
  });
});
