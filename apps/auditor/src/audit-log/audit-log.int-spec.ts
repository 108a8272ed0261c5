import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import { newEvent, subjectFor, SYSTEM_TENANT_ID, type Envelope, type EventData } from '@autoheal/contracts';
import { closeNats, connectNats } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, publishSigned, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { complianceRefused, incidentOpened, remediationSucceeded, startAuditor, type RunningAuditor } from '../test-support/auditor';
import { AuditLogService } from './audit-log.service';
import type { DataSource } from 'typeorm';
import { AUDIT_READ_DB } from './audit-read-pool';
import { AuditReadService, VERIFY_BATCH, VERIFY_SLICE_ROWS, type ApiCaller } from './audit-read.service';
import { GENESIS_HASH } from './hash-chain';

interface Row {
  tenant_id: string;
  seq: string;
  event_id: string;
  event_type: string;
  actor: string;
  action: string;
  outcome: string;
  source: string;
  resource: Record<string, unknown>;
  trace_id: string | null;
  prev_hash: string;
  hash: string;
}

describe('audit log (real Postgres and nats-server)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let pg: Client;
  /** Logged in as the auditor's own role, like the service. */
  let asAuditor: Client;
  let nc: NatsConnection;
  let auditor: RunningAuditor;
  let service: AuditLogService;
  let reader: AuditReadService;
  const caller: ApiCaller = { actor: 'ak_test', source: 'test', scope: { kind: 'all' } };
  /** A caller of its own per full verification: each key may run one at a time (its own bucket, burst 1). */
  const fullCaller = (): ApiCaller => ({ ...caller, actor: `ak_full_${randomUUID()}` });

  const rows = async (tenantId: string): Promise<Row[]> =>
    (await pg.query<Row>(`SELECT * FROM auditor.audit_log WHERE tenant_id = $1 ORDER BY seq`, [tenantId])).rows;

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    asAuditor = new Client({ connectionString: db.roleUrl('auditor') });
    await asAuditor.connect();
    // Verifications here are the subject, not a flood: a budget that never runs out.
    auditor = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url, extraEnv: { AUDITOR_READ_BURST: '100000', AUDITOR_READ_RATE_PER_MINUTE: '100000' } });
    service = auditor.app.get(AuditLogService);
    reader = auditor.app.get(AuditReadService);
    nc = await connectNats({ servers: nats.url, name: 'audit-log-int-spec' });
  });

  afterAll(async () => {
    await auditor?.stop();
    if (nc) await closeNats(nc);
    await pg?.end();
    await asAuditor?.end();
    await db?.drop();
    await nats?.stop();
  });

  it('records incident, remediation and compliance events from their streams as a hash chain', async () => {
    const incidentId = randomUUID();
    const opened = incidentOpened('initech', incidentId);
    const succeeded = remediationSucceeded('initech', incidentId, opened.id);
    const refused = complianceRefused('initech', incidentId);
    for (const event of [opened, succeeded, refused]) await publishSigned(nc, auditor.keys, event);

    const recorded = await expectEventually(async () => {
      const r = await rows('initech');
      expect(r.map((x) => x.event_id).sort()).toEqual([opened.id, succeeded.id, refused.id].sort());
      return r;
    });
    expect(recorded.map((r) => Number(r.seq))).toEqual([1, 2, 3]);
    expect(recorded[0].prev_hash).toBe(GENESIS_HASH);
    expect(recorded[1].prev_hash).toBe(recorded[0].hash);
    expect(recorded[2].prev_hash).toBe(recorded[1].hash);
    const byType = Object.fromEntries(recorded.map((r) => [r.event_type, r]));
    expect(byType['incident.opened']).toMatchObject({ actor: 'detector', action: 'incident.open', outcome: 'info', source: subjectFor(opened) });
    expect(byType['incident.opened'].resource).toEqual({ service: 'api', instance: 'api-1', incidentId });
    expect(byType['remediation.succeeded']).toMatchObject({ actor: 'executor', action: 'restart.execute', outcome: 'success' });
    expect(byType['compliance.action_refused']).toMatchObject({ actor: 'decision', outcome: 'refused' });

    const report = await reader.verify('initech', caller);
    expect(report).toMatchObject({ tenantId: 'initech', ok: true, checkedRows: 3, headSeq: 3, headHash: recorded[2].hash, firstBreak: null });
  });

  it('records a control event whose signature it refuses as its own security row, never as the event', async () => {
    const forged = incidentOpened('forgery');
    // A valid signature, by a service not entitled to incidents.
    await publishSigned(nc, auditor.keys, forged, { as: 'decision' });
    await expectEventually(async () => expect((await rows('forgery')).map((r) => [r.event_type, r.actor, r.action, r.outcome, r.source])).toEqual([['security.event_rejected', 'auditor', 'control_event.reject', 'refused', 'incident.forgery.opened']]));
    const [row] = await rows('forgery');
    expect(row.event_id).not.toBe(forged.id);
    expect(row.resource).toEqual({ subject: 'incident.forgery.opened', eventId: forged.id });

    // What another service refused arrives signed on security.> and is appended as that service's.
    const raised = newEvent('security.event_rejected', {
      tenantId: 'forgery',
      producer: 'executor',
      data: { reason: 'unsigned', detail: 'no header', subject: 'remediation.forgery.planned', eventId: randomUUID(), eventType: 'remediation.planned', claimedProducer: 'decision', keyId: null, rejectedBy: 'executor-remediations', stream: 'REMEDIATIONS', streamSequence: 7 },
    });
    await publishSigned(nc, auditor.keys, raised);
    await expectEventually(async () => expect((await rows('forgery')).map((r) => [r.event_type, r.actor])).toEqual([
      ['security.event_rejected', 'auditor'],
      ['security.event_rejected', 'executor'],
    ]));
  });

  it("appends another service's aggregated refusals to the system trail as access.refused, in no tenant's trail", async () => {
    const refusal = (data: Partial<EventData<'security.access_refused'>> = {}) =>
      newEvent('security.access_refused', {
        tenantId: SYSTEM_TENANT_ID,
        producer: 'decision',
        data: { api: 'decision admin API', origin: 'address 10.0.0.9', code: 'invalid_credential', status: 401, count: 200, firstAt: '2026-01-01T00:00:00.000Z', lastAt: '2026-01-01T00:00:05.000Z', windowStart: '2026-01-01T00:00:00.000Z', ...data },
      });
    const tenantRows = async () => (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM auditor.audit_log WHERE tenant_id <> $1`, [SYSTEM_TENANT_ID])).rows[0].n;
    const systemRows = async () => (await rows(SYSTEM_TENANT_ID)).filter((r) => r.event_type === 'access.refused' || r.event_type === 'security.event_rejected');
    const before = { tenants: await tenantRows(), system: (await systemRows()).length };

    const flood = refusal();
    await publishSigned(nc, auditor.keys, flood);
    // Another service may not speak for the decision service's API: refused, and recorded as a rejection, never as refusals.
    const forged = refusal({ origin: 'ak_framed', count: 1_000_000 });
    await publishSigned(nc, auditor.keys, forged, { as: 'executor' });
    await expectEventually(async () => expect((await systemRows()).length).toBe(before.system + 2), { timeoutMs: 20_000 });
    const added = (await systemRows()).slice(before.system);
    expect(added.map((r) => [r.event_type, r.actor, r.action, r.outcome, r.resource])).toEqual(
      expect.arrayContaining([
        ['access.refused', 'address 10.0.0.9', 'api.authenticate', 'refused', { api: 'decision admin API' }],
        ['security.event_rejected', 'auditor', 'control_event.reject', 'refused', { subject: 'security.@system.access_refused', eventId: forged.id }],
      ]),
    );
    const [row] = (await pg.query<{ payload: Envelope<'security.access_refused'> }>(`SELECT payload FROM auditor.audit_log WHERE event_id = $1`, [flood.id])).rows;
    expect(row.payload.data).toMatchObject({ count: 200, code: 'invalid_credential', status: 401 });
    expect(await tenantRows()).toBe(before.tenants);
  });

  it('gives one row for an event delivered twice', async () => {
    const event = incidentOpened('dupco');
    await publishSigned(nc, auditor.keys, event);
    // A second message with the same event but another Nats-Msg-Id passes JetStream's
    // de-duplication: only the append function's check of the event id stands between it and a second row.
    await publishSigned(nc, auditor.keys, event, { msgID: `${event.id}-again` });
    const later = incidentOpened('dupco');
    await publishSigned(nc, auditor.keys, later);

    // The later event is recorded after both copies of the first were handled (one consumer, in order).
    await expectEventually(async () => expect((await rows('dupco')).map((r) => r.event_id)).toContain(later.id));
    const r = await rows('dupco');
    expect(r.map((x) => x.event_id)).toEqual([event.id, later.id]);
    expect((await pg.query(`SELECT count(*)::int AS n FROM auditor.audit_log WHERE event_id = $1`, [event.id])).rows).toEqual([{ n: 1 }]);
  });

  it('records an event once when several deliveries race', async () => {
    const event = incidentOpened('racer');
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, () => service.recordEvent(event, { subject: subjectFor(event) })),
    );
    expect(outcomes.filter((o) => o === 'appended')).toHaveLength(1);
    expect(await rows('racer')).toHaveLength(1);
  });

  it('keeps one unbroken chain per tenant under concurrent writers', async () => {
    const events: Envelope[] = [];
    for (let i = 0; i < 40; i++) events.push(incidentOpened(i % 2 ? 'tenant-a' : 'tenant-b', randomUUID(), `i-${i}`));
    await Promise.all(events.map((e) => service.recordEvent(e, { subject: subjectFor(e) })));

    for (const tenant of ['tenant-a', 'tenant-b']) {
      const r = await rows(tenant);
      expect(r.map((x) => Number(x.seq))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(r.every((x) => x.tenant_id === tenant)).toBe(true);
      expect(r[0].prev_hash).toBe(GENESIS_HASH);
      expect(await reader.verify(tenant, caller)).toMatchObject({ ok: true, checkedRows: 20, headSeq: 20 });
    }
    // Two chains, not one interleaved: each starts from genesis.
    const [a, b] = [await rows('tenant-a'), await rows('tenant-b')];
    expect(a[0].hash).not.toBe(b[0].hash);
  });

  describe('append-only in the database', () => {
    const tenant = 'immutable';
    /** Appends `n` incident rows to `tenantId`'s chain, one event at a time, as the consumer would. */
    const recordIncidents = async (tenantId: string, n: number) => {
      for (let i = 0; i < n; i++) {
        const e = incidentOpened(tenantId, randomUUID(), `i-${i}`);
        await service.recordEvent(e, { subject: subjectFor(e) });
      }
    };

    beforeAll(async () => {
      for (let i = 0; i < 4; i++) {
        const e = incidentOpened(tenant, randomUUID(), `i-${i}`);
        await service.recordEvent(e, { subject: subjectFor(e) });
      }
    });

    async function asAppRole<T>(sql: string): Promise<T> {
      return (await asAuditor.query(sql)) as T;
    }

    it.each([
      ['UPDATE', `UPDATE auditor.audit_log SET actor = 'mallory' WHERE tenant_id = '${tenant}'`],
      ['DELETE', `DELETE FROM auditor.audit_log WHERE tenant_id = '${tenant}'`],
      ['TRUNCATE', `TRUNCATE auditor.audit_log`],
    ])('refuses %s to the auditor role', async (_op, sql) => {
      const before = await rows(tenant);
      await expect(asAppRole(sql)).rejects.toThrow('permission denied for table audit_log');
      expect(await rows(tenant)).toEqual(before);
    });

    it("lets the auditor role read a tenant's audit rows in a transaction scoped to that tenant, and none outside one", async () => {
      const count = `SELECT count(*) AS n FROM auditor.audit_log WHERE tenant_id = '${tenant}'`;
      await asAuditor.query('BEGIN');
      try {
        await asAuditor.query(`SELECT set_config('autoheal.tenant_id', $1, true)`, [tenant]);
        expect((await asAppRole<{ rows: { n: string }[] }>(count)).rows[0].n).toBe('4');
      } finally {
        await asAuditor.query('COMMIT');
      }
      expect((await asAppRole<{ rows: { n: string }[] }>(count)).rows[0].n).toBe('0');
    });

    it('appends through the append function as its own role: without EXECUTE on it the service cannot append', async () => {
      const e = incidentOpened(tenant);
      await pg.query('REVOKE EXECUTE ON FUNCTION auditor.append_audit_entries FROM autoheal_auditor');
      try {
        await expect(service.recordEvent(e, { subject: subjectFor(e) })).rejects.toThrow(
          'permission denied for function append_audit_entries',
        );
      } finally {
        await pg.query('GRANT EXECUTE ON FUNCTION auditor.append_audit_entries TO autoheal_auditor');
      }
      // Nothing half-done: the failed call left no row, so the retry appends.
      expect(await service.recordEvent(e, { subject: subjectFor(e) })).toBe('appended');
      expect(await rows(tenant)).toHaveLength(5);
      expect(await reader.verify(tenant, caller)).toMatchObject({ ok: true });
    });

    it.each([
      ['UPDATE', `UPDATE auditor.audit_log SET actor = 'mallory' WHERE tenant_id = '${tenant}' AND seq = 2`],
      ['DELETE', `DELETE FROM auditor.audit_log WHERE tenant_id = '${tenant}' AND seq = 2`],
      ['TRUNCATE', `TRUNCATE auditor.audit_log`],
    ])('refuses %s to a superuser too (trigger naming the table)', async (op, sql) => {
      const before = await rows(tenant);
      await expect(pg.query(sql)).rejects.toThrow(`auditor.audit_log is append-only: ${op} is not allowed`);
      expect(await rows(tenant)).toEqual(before);
    });

    it('exposes a superuser who bypasses the trigger: a full verify names the edited seq, before the verified point too', async () => {
      expect(await reader.verify(tenant, caller)).toMatchObject({ ok: true, firstBreak: null });
      const head = Number((await rows(tenant)).at(-1)?.seq);
      await pg.query('BEGIN');
      await pg.query(`SET LOCAL session_replication_role = replica`);
      await pg.query(`UPDATE auditor.audit_log SET payload = jsonb_set(payload, '{data,instance}', '"elsewhere"') WHERE tenant_id = $1 AND seq = 3`, [tenant]);
      await pg.query('COMMIT');
      const edited = await pg.query<{ instance: string }>(`SELECT payload->'data'->>'instance' AS instance FROM auditor.audit_log WHERE tenant_id = $1 AND seq = 3`, [tenant]);
      expect(edited.rows[0].instance).toBe('elsewhere');

      // The trade-off of incremental verification: seq 3 lies before the verified point, which
      // an incremental verify trusts (it checks the row at the point, and what follows it).
      expect(await reader.verify(tenant, caller)).toMatchObject({ ok: true, fromSeq: head, checkedRows: 0 });

      const report = await reader.verify(tenant, fullCaller(), { full: true });
      expect(report).toMatchObject({ ok: false, full: true, fromSeq: 0 });
      expect(report.firstBreak).toMatchObject({ seq: 3, reason: 'hash_mismatch' });
      const stored = (await rows(tenant)).find((r) => Number(r.seq) === 3);
      expect(report.firstBreak?.actualHash).toBe(stored?.hash);
      // The broken verdict was recorded at once, with the verdict, and the chain goes on from the stored head.
      const last = (await rows(tenant)).at(-1);
      expect(last).toMatchObject({ event_type: 'audit.verify', outcome: 'failure' });
    });

    it('verifies from the first row again once the last whole verification is too old, or stamped in the future', async () => {
      const other = 'staleco';
      for (let i = 0; i < 3; i++) {
        const e = incidentOpened(other, randomUUID(), `i-${i}`);
        await service.recordEvent(e, { subject: subjectFor(e) });
      }
      expect(await reader.verify(other, caller)).toMatchObject({ ok: true, full: true, headSeq: 3 });
      await pg.query('BEGIN');
      await pg.query(`SET LOCAL session_replication_role = replica`);
      await pg.query(`UPDATE auditor.audit_log SET actor = 'mallory' WHERE tenant_id = $1 AND seq = 1`, [other]);
      await pg.query('COMMIT');
      // Within the age: incremental, and blind to a row before the point.
      expect(await reader.verify(other, caller)).toMatchObject({ ok: true, full: false, fromSeq: 3 });
      for (const stamp of [`now() - interval '25 hours'`, `now() + interval '1 hour'`]) {
        await pg.query(`UPDATE auditor.verify_points SET full_verified_at = ${stamp} WHERE tenant_id = $1`, [other]);
        expect(await reader.verify(other, caller)).toMatchObject({ ok: false, full: true, fromSeq: 0, firstBreak: { seq: 1, reason: 'hash_mismatch' } });
      }
    });

    it('exposes a row edited after the verified point in an incremental verify', async () => {
      const other = 'laterco';
      const record = (n: number) => recordIncidents(other, n);
      await record(3);
      expect(await reader.verify(other, caller)).toMatchObject({ ok: true, fromSeq: 0, checkedRows: 3, headSeq: 3 });
      await record(3);
      await pg.query('BEGIN');
      await pg.query(`SET LOCAL session_replication_role = replica`);
      await pg.query(`UPDATE auditor.audit_log SET actor = 'mallory' WHERE tenant_id = $1 AND seq = 5`, [other]);
      await pg.query('COMMIT');
      const report = await reader.verify(other, caller);
      expect(report).toMatchObject({ ok: false, fromSeq: 3, checkedRows: 3, firstBreak: { seq: 5, reason: 'hash_mismatch' } });
      // A broken chain does not move the verified point: the next verify still starts at 3 and still sees it.
      expect(await reader.verify(other, caller)).toMatchObject({ ok: false, fromSeq: 3, firstBreak: { seq: 5 } });
    });

    it('resumes after the verified point in one read transaction, and reads the rest only when a full verification is due', async () => {
      const other = 'roundtripco';
      const record = (n: number) => recordIncidents(other, n);
      await record(3);
      expect(await reader.verify(other, caller)).toMatchObject({ ok: true, full: true, headSeq: 3 });
      await record(4);
      const readDb = auditor.app.get<DataSource>(AUDIT_READ_DB);
      const transactions = jest.spyOn(readDb, 'transaction');
      try {
        // The opening reads fetch the row at the point, the checkpoints after it and the new rows at once.
        expect(await reader.verify(other, caller)).toMatchObject({ ok: true, full: false, fromSeq: 3, checkedRows: 4, headSeq: 7 });
        expect(transactions).toHaveBeenCalledTimes(1);
        transactions.mockClear();
        // A full one reads nothing ahead: its rows come batch by batch.
        expect(await reader.verify(other, fullCaller(), { full: true })).toMatchObject({ ok: true, full: true, fromSeq: 0, checkedRows: 7, headSeq: 7 });
        expect(transactions).toHaveBeenCalledTimes(3);
      } finally {
        transactions.mockRestore();
      }
      // Read ahead or not, a row edited after the point is named.
      await record(2);
      await pg.query('BEGIN');
      await pg.query(`SET LOCAL session_replication_role = replica`);
      await pg.query(`UPDATE auditor.audit_log SET actor = 'mallory' WHERE tenant_id = $1 AND seq = 9`, [other]);
      await pg.query('COMMIT');
      expect(await reader.verify(other, caller)).toMatchObject({ ok: false, fromSeq: 7, checkedRows: 2, firstBreak: { seq: 9, reason: 'hash_mismatch' } });
    });

    it('exposes a rewrite of the row at the verified point, hashes recomputed, in an incremental verify', async () => {
      const other = 'pointco';
      for (let i = 0; i < 3; i++) {
        const e = incidentOpened(other, randomUUID(), `i-${i}`);
        await service.recordEvent(e, { subject: subjectFor(e) });
      }
      expect(await reader.verify(other, caller)).toMatchObject({ ok: true, headSeq: 3 });
      // As the owner could: change the head row and recompute its hash with the database's own function.
      await pg.query('BEGIN');
      await pg.query(`SET LOCAL session_replication_role = replica`);
      await pg.query(
        `UPDATE auditor.audit_log SET actor = 'mallory', hash = auditor.audit_row_hash(tenant_id, seq, prev_hash, event_id, event_type, occurred_at, recorded_at,
           'mallory', action, outcome, resource, source, correlation_id, causation_id, trace_id, payload) WHERE tenant_id = $1 AND seq = 3`,
        [other],
      );
      await pg.query('COMMIT');
      expect(await reader.verify(other, caller)).toMatchObject({ ok: false, fromSeq: 3, firstBreak: { seq: 3, reason: 'hash_mismatch' } });
    });

    it('verifies a chain longer than a batch, hashed slice by slice: every row is checked, and a row edited in a later slice is named', async () => {
      const other = 'longco';
      const length = VERIFY_BATCH + 2 * VERIFY_SLICE_ROWS + 7;
      // Appended by the function the service calls, as the auditor's role, in one statement.
      await asAuditor.query(
        `SELECT count(*) FROM generate_series(1, $2::int) AS g,
           LATERAL auditor.append_audit_entry($1, gen_random_uuid()::text, 'incident.opened', now(), 'detector', 'incident.open', 'success',
             jsonb_build_object('instance', 'i-' || g), 'incident.' || $1 || '.opened', gen_random_uuid()::text, NULL, NULL,
             jsonb_build_object('type', 'incident.opened', 'data', jsonb_build_object('instance', 'i-' || g)))`,
        [other, length],
      );
      expect(await reader.verify(other, caller)).toMatchObject({ ok: true, full: true, checkedRows: length, headSeq: length, firstBreak: null });
      const edited = VERIFY_BATCH + VERIFY_SLICE_ROWS + 3;
      await pg.query('BEGIN');
      await pg.query(`SET LOCAL session_replication_role = replica`);
      await pg.query(`UPDATE auditor.audit_log SET actor = 'mallory' WHERE tenant_id = $1 AND seq = $2`, [other, edited]);
      await pg.query('COMMIT');
      expect(await reader.verify(other, fullCaller(), { full: true })).toMatchObject({ ok: false, checkedRows: length, headSeq: length, firstBreak: { seq: edited, reason: 'hash_mismatch' } });
    });

    it('exposes a deleted row (trigger disabled) as a gap at its seq', async () => {
      const other = 'gapco';
      for (let i = 0; i < 3; i++) {
        const e = incidentOpened(other, randomUUID(), `i-${i}`);
        await service.recordEvent(e, { subject: subjectFor(e) });
      }
      await pg.query('BEGIN');
      await pg.query('ALTER TABLE auditor.audit_log DISABLE TRIGGER audit_log_no_update_delete');
      await pg.query(`DELETE FROM auditor.audit_log WHERE tenant_id = $1 AND seq = 2`, [other]);
      await pg.query('ALTER TABLE auditor.audit_log ENABLE TRIGGER audit_log_no_update_delete');
      await pg.query('COMMIT');
      expect((await reader.verify(other, caller)).firstBreak).toMatchObject({ seq: 2, reason: 'seq_gap' });
    });
  });

  it('reports Postgres and NATS in /health and the appends in /metrics', async () => {
    const health = await fetch(`${auditor.baseUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', checks: { postgres: { ok: true }, nats: { ok: true } } });
    const metrics = await (await fetch(`${auditor.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/autoheal_auditor_rows_appended_total\{event_type="incident.opened",service="auditor"\} \d+/);
    expect(metrics).toMatch(/autoheal_auditor_append_duration_seconds_count\{service="auditor",kind="event"\} [1-9]\d*/);
  });
});
