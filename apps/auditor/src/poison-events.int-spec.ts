import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import { STREAMS, type DeadLetterRecord } from '@autoheal/contracts';
import { closeNats, connectNats } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, publishSigned, readStream, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { incidentOpened, startAuditor, type RunningAuditor } from './test-support/auditor';

/** Poison is poison: a signed, contract-valid event the audit store refuses for its content. */
describe('auditor consumer and content the database refuses (real Postgres and nats-server)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let pg: Client;
  let nc: NatsConnection;
  let auditor: RunningAuditor;

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    auditor = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url });
    nc = await connectNats({ servers: nats.url, name: 'auditor-poison-int-spec' });
  });

  afterAll(async () => {
    await auditor?.stop();
    if (nc) await closeNats(nc);
    await pg?.end();
    await db?.drop();
    await nats?.stop();
  });

  it('dead-letters it on its first delivery with the reason, and records the next event of the tenant', async () => {
    const poison = incidentOpened('poisoned');
    // Valid JSON and valid for the contract (evidence is open); jsonb refuses \u0000 (22P05).
    poison.data.evidence = { note: 'bad\u0000byte' };
    const next = incidentOpened('poisoned');
    await publishSigned(nc, auditor.keys, poison);
    await publishSigned(nc, auditor.keys, next);

    await expectEventually(async () => {
      const { rows } = await pg.query<{ event_id: string }>(`SELECT event_id FROM auditor.audit_log WHERE tenant_id = 'poisoned'`);
      expect(rows.map((r) => r.event_id)).toEqual([next.id]);
      const letters = (await readStream<DeadLetterRecord>(nc, STREAMS.deadLetter.name)).filter((r) => r.subject === 'incident.poisoned.opened');
      expect(letters.map((r) => [r.consumer, r.deliveries])).toEqual([['auditor-incidents', 1]]);
      // The auditor maps a data exception to its own code (unstorable_event) before the transport judges it.
      expect(letters[0].reason).toBe('handler_rejected');
      expect(letters[0].detail).toMatch(/^unstorable_event: .*unsupported Unicode escape sequence/);
    }, { timeoutMs: 20_000 });
    // In the tenant's own share of the dead-letter stream.
    const info = await (await jetstreamManager(nc)).streams.info(STREAMS.deadLetter.name, { subjects_filter: 'deadletter.INCIDENTS.>' });
    expect(Object.keys(info.state.subjects ?? {})).toEqual(['deadletter.INCIDENTS.auditor-incidents.poisoned']);
  });
});
