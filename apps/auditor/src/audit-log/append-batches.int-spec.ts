import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import { STREAMS, type DeadLetterRecord, type Envelope } from '@autoheal/contracts';
import { closeNats, connectNats } from '@autoheal/messaging';
import { createTestDatabase, createTestKeys, expectEventually, publishSigned, readStream, startNatsServer, type NatsServerHandle, type TestDatabase, type TestKeys } from '@autoheal/testing';
import { auditorMetrics } from '../auditor.metrics';
import { incidentOpened, startAuditor, type RunningAuditor } from '../test-support/auditor';
import { INCIDENTS_AUDIT_CONSUMER } from './audit-log.consumers';
import { AuditReadService, type ApiCaller } from './audit-read.service';

/**
 * The auditor records consumed events in batches (one transaction for many events). Here the
 * events of a test are published while no auditor runs, so the one started next pulls them
 * together and hands them to one batch: what a batch must never do is commit part of itself,
 * lose an event, record one twice, or let one bad event take the others down with it.
 */
describe('append batches through the auditor consumers (real Postgres and nats-server)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let pg: Client;
  let nc: NatsConnection;
  let keys: TestKeys;
  let auditor: RunningAuditor | undefined;
  /** A key of its own per verification: each key's read budget is its own. */
  const caller = (): ApiCaller => ({ actor: `ak_${randomUUID()}`, source: 'test', scope: { kind: 'all' } });

  const start = async () => (auditor = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url, keys }));
  const stop = async () => {
    await auditor?.stop();
    auditor = undefined;
  };
  const eventIds = async (tenantId: string): Promise<string[]> =>
    (await pg.query<{ event_id: string }>(`SELECT event_id FROM auditor.audit_log WHERE tenant_id = $1 ORDER BY seq`, [tenantId])).rows.map((r) => r.event_id);
  const count = async (sql: string, params: unknown[]): Promise<number> => Number((await pg.query<{ n: string }>(sql, params)).rows[0].n);
  const splits = async (): Promise<number> => (await auditorMetrics.appendBatchesSplit.get()).values[0]?.value ?? 0;

  /** Events of two tenants, interleaved as the stream will deliver them. */
  function interleaved(tenants: [string, string], perTenant: number): Envelope<'incident.opened'>[] {
    return Array.from({ length: perTenant * 2 }, (_, i) => incidentOpened(tenants[i % 2], randomUUID(), `api-${i}`));
  }

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    keys = createTestKeys();
    nc = await connectNats({ servers: nats.url, name: 'append-batches-int-spec' });
    // A first run provisions the streams and the durable consumers; events published after it stops wait for the next.
    await start();
    await stop();
  });

  afterAll(async () => {
    await stop();
    if (nc) await closeNats(nc);
    await pg?.end();
    await db?.drop();
    await nats?.stop();
    keys?.remove();
  });

  afterEach(async () => {
    await stop();
  });

  it('dead-letters a poison event of a batch with its reason and records the others of the batch, in delivery order, once', async () => {
    const tenants: [string, string] = ['poison-batch-a', 'poison-batch-b'];
    const events = interleaved(tenants, 5);
    // Valid for the contract and signed; jsonb refuses \u0000 (22P05): the database refuses the content.
    const poison = events[4];
    poison.data.evidence = { note: 'bad\u0000byte' };
    for (const e of events) await publishSigned(nc, keys, e);
    const splitsBefore = await splits();

    await start();
    const recorded = events.filter((e) => e !== poison);
    await expectEventually(
      async () => {
        for (const tenant of tenants) expect(await eventIds(tenant)).toEqual(recorded.filter((e) => e.tenantId === tenant).map((e) => e.id));
        const letters = (await readStream<DeadLetterRecord>(nc, STREAMS.deadLetter.name)).filter((r) => r.subject === `incident.${poison.tenantId}.opened`);
        expect(letters.map((r) => [r.consumer, r.deliveries, r.reason])).toEqual([[INCIDENTS_AUDIT_CONSUMER.durable, 1, 'handler_rejected']]);
        expect(letters[0].detail).toMatch(/^unstorable_event: .*unsupported Unicode escape sequence/);
      },
      { timeoutMs: 30_000 },
    );
    // The poison was in a batch with others (the batch failed and was written one event at a time), not alone.
    expect(await splits()).toBeGreaterThan(splitsBefore);
    // One row each; none for the poison.
    expect(await count(`SELECT count(*) AS n FROM auditor.audit_log WHERE event_id = ANY ($1)`, [events.map((e) => e.id)])).toBe(recorded.length);
    const reader = auditor!.app.get(AuditReadService);
    for (const tenant of tenants) expect(await reader.verify(tenant, caller())).toMatchObject({ ok: true, checkedRows: tenant === poison.tenantId ? 4 : 5 });
  });

  it('commits nothing of a batch whose transaction fails after its appends, and records every event once when they come back', async () => {
    const tenants: [string, string] = ['crash-batch-a', 'crash-batch-b'];
    const events = interleaved(tenants, 4);
    // The fault: inserting the batch's seals — after its rows were appended in the same
    // transaction — fails with a transient error while the switch row exists. Sequences are not
    // transactional, so they keep what the failing transactions saw.
    await pg.query(`CREATE TABLE public.append_fault (on_ boolean)`);
    await pg.query(`CREATE SEQUENCE public.append_fault_hits`);
    await pg.query(`CREATE SEQUENCE public.append_fault_rows_seen MINVALUE 0 START 0`);
    await pg.query(`
      CREATE FUNCTION public.append_fault() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
      DECLARE rows_now bigint;
      BEGIN
        IF EXISTS (SELECT 1 FROM public.append_fault) THEN
          PERFORM nextval('public.append_fault_hits');
          SELECT count(*) INTO rows_now FROM auditor.audit_log WHERE tenant_id LIKE 'crash-batch-%';
          PERFORM setval('public.append_fault_rows_seen', greatest(rows_now, (SELECT last_value FROM public.append_fault_rows_seen)));
          RAISE EXCEPTION 'injected fault after the appends' USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN NULL;
      END
      $$`);
    await pg.query(`CREATE TRIGGER append_fault BEFORE INSERT ON auditor.audit_seals FOR EACH STATEMENT EXECUTE FUNCTION public.append_fault()`);
    await pg.query(`INSERT INTO public.append_fault VALUES (true)`);
    try {
      for (const e of events) await publishSigned(nc, keys, e);
      await start();
      const jsm = await jetstreamManager(nc);
      // Failed, nak'ed and delivered again, more than once.
      await expectEventually(
        async () => {
          const info = await jsm.consumers.info(STREAMS.incidents.name, INCIDENTS_AUDIT_CONSUMER.durable);
          expect(info.num_redelivered).toBeGreaterThanOrEqual(events.length);
          expect(Number((await pg.query<{ n: string }>(`SELECT last_value AS n FROM public.append_fault_hits`)).rows[0].n)).toBeGreaterThan(events.length);
        },
        { timeoutMs: 30_000 },
      );
      // A failing transaction had appended rows of the batch (several events) before it failed…
      expect(Number((await pg.query<{ n: string }>(`SELECT last_value AS n FROM public.append_fault_rows_seen`)).rows[0].n)).toBeGreaterThanOrEqual(2);
      // …and none of them and no seal was committed.
      const ids = events.map((e) => e.id);
      expect(await count(`SELECT count(*) AS n FROM auditor.audit_log WHERE tenant_id = ANY ($1)`, [tenants])).toBe(0);
      expect(await count(`SELECT count(*) AS n FROM auditor.audit_seals WHERE tenant_id = ANY ($1)`, [tenants])).toBe(0);

      // The process goes away with the events unacknowledged; the next one gets them again.
      await stop();
      await pg.query(`DELETE FROM public.append_fault`);
      await start();
      // Each once. In the order of their last delivery, which after naks with backoff need not be
      // the order published (an event delivered more often waits longer): the chain is checked below.
      await expectEventually(
        async () => {
          for (const tenant of tenants) expect((await eventIds(tenant)).sort()).toEqual(events.filter((e) => e.tenantId === tenant).map((e) => e.id).sort());
        },
        { timeoutMs: 60_000 },
      );
      expect(await count(`SELECT count(*) AS n FROM auditor.audit_log WHERE event_id = ANY ($1)`, [ids])).toBe(events.length);
      // The seals' ranges (one per tenant and transaction) hold every row once.
      expect(await count(`SELECT sum(seq - coalesce(from_seq, seq) + 1) AS n FROM auditor.audit_seals WHERE tenant_id = ANY ($1)`, [tenants])).toBe(events.length);
      const reader = auditor!.app.get(AuditReadService);
      for (const tenant of tenants) expect(await reader.verify(tenant, caller())).toMatchObject({ ok: true, checkedRows: 4, headSeq: 4 });
      // Nothing was given up on.
      const letters = (await readStream<DeadLetterRecord>(nc, STREAMS.deadLetter.name)).filter((r) => tenants.some((t) => r.subject === `incident.${t}.opened`));
      expect(letters).toEqual([]);
    } finally {
      await pg.query(`DROP TRIGGER IF EXISTS append_fault ON auditor.audit_seals`);
      await pg.query(`DROP FUNCTION IF EXISTS public.append_fault()`);
    }
  }, 180_000);
});
