import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { hashRow, type ChainedRow } from '@autoheal/evidence';
import { ensureDevCertificates } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { AuditLogService } from '../audit-log/audit-log.service';
import { auditorMetrics } from '../auditor.metrics';
import { incidentOpened, startAuditor, type RunningAuditor } from '../test-support/auditor';
import { startRsyslog, type RsyslogReceiver } from '../test-support/rsyslog';
import { SD_ID } from './syslog-format';

const TENANTS = ['acme', 'globex'] as const;
const BOM = '\uFEFF';

/** A received line: the structured data's tenant and seq, and the row in the body. */
interface Received {
  tenantId: string;
  seq: number;
  row: ChainedRow;
}

function parseReceived(line: string): Received {
  const sd = new RegExp(`\\[${SD_ID} tenant="([^"]*)" seq="(\\d+)"`).exec(line);
  const bom = line.indexOf(BOM);
  if (!sd || bom === -1) throw new Error(`not one of ours: ${line.slice(0, 200)}`);
  const row = JSON.parse(line.slice(bom + BOM.length)) as ChainedRow;
  return { tenantId: sd[1], seq: Number(sd[2]), row };
}

/** Every seq of each tenant from 1 to its head, first seen in increasing order; duplicates allowed. */
function checkDelivery(lines: readonly string[], heads: ReadonlyMap<string, number>): void {
  const seen = new Map<string, number[]>();
  for (const line of lines) {
    const r = parseReceived(line);
    expect(r.row.tenantId).toBe(r.tenantId);
    expect(r.row.seq).toBe(r.seq);
    // The body is the whole row: the SIEM can recompute its hash.
    const { hash, ...fields } = r.row;
    expect(hashRow(fields)).toBe(hash);
    const list = seen.get(r.tenantId) ?? [];
    if (!list.includes(r.seq)) list.push(r.seq);
    seen.set(r.tenantId, list);
  }
  for (const [tenantId, head] of heads) {
    const firstSeen = seen.get(tenantId) ?? [];
    const expected = Array.from({ length: head }, (_, i) => i + 1);
    expect({ tenantId, firstSeen }).toEqual({ tenantId, firstSeen: expected });
  }
}

async function counter(metric: { get(): Promise<{ values: { value: number; labels: Partial<Record<string, string | number>> }[] }> }, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((sum, v) => sum + v.value, 0);
}

describe('SIEM forwarding to a real rsyslog over TLS', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let pg: Client;
  /** Appends rows (forwarding off), so rows keep coming while the forwarder and the receiver restart. */
  let writer: RunningAuditor;
  let dir: string;
  const receivers: RsyslogReceiver[] = [];
  const forwarders: RunningAuditor[] = [];

  const append = async (tenantId: string, n: number): Promise<void> => {
    const audit = writer.app.get(AuditLogService);
    for (let i = 0; i < n; i++) await audit.recordEvent(incidentOpened(tenantId), { subject: `incident.${tenantId}.opened` });
  };
  const appendBoth = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) for (const t of TENANTS) await append(t, 1);
  };
  const heads = async (): Promise<Map<string, number>> => {
    const { rows } = await pg.query<{ tenant_id: string; head: string }>(`SELECT tenant_id, max(seq) AS head FROM auditor.audit_log GROUP BY tenant_id`);
    return new Map(rows.map((r) => [r.tenant_id, Number(r.head)]));
  };
  const cursors = async (destination: string): Promise<Map<string, number>> => {
    const { rows } = await pg.query<{ tenant_id: string; seq: string }>(`SELECT tenant_id, seq FROM auditor.siem_cursors WHERE destination = $1`, [destination]);
    return new Map(rows.map((r) => [r.tenant_id, Number(r.seq)]));
  };
  const startForwarder = async (env: Record<string, string>): Promise<RunningAuditor> => {
    const auditor = await startAuditor({
      databaseUrl: db.roleUrl('auditor'),
      natsUrl: nats.url,
      extraEnv: { AUDITOR_SIEM_POLL_MS: '50', AUDITOR_SIEM_BACKOFF_MAX_MS: '400', AUDITOR_SIEM_TIMEOUT_MS: '10000', AUDITOR_SIEM_HOSTNAME: 'auditor-it', ...env },
    });
    forwarders.push(auditor);
    return auditor;
  };
  const stopForwarder = async (auditor: RunningAuditor): Promise<void> => {
    forwarders.splice(forwarders.indexOf(auditor), 1);
    await auditor.stop();
  };

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    writer = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url });
    dir = mkdtempSync(join(tmpdir(), 'autoheal-siem-'));
  }, 180_000);

  afterAll(async () => {
    for (const f of [...forwarders]) await f.stop().catch(() => undefined);
    for (const r of receivers) await r.stop('SIGKILL').catch(() => undefined);
    await writer?.stop();
    await pg?.end();
    await db?.drop();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every row of each tenant, in order, across a receiver crash and a forwarder restart', async () => {
    const tls = ensureDevCertificates(join(dir, 'ca'));
    const receiver = await startRsyslog(join(dir, 'receiver'), tls);
    receivers.push(receiver);
    const report = (): string => `received ${receiver.received().length} lines:\n${receiver.received().map((l) => l.slice(0, 160)).join('\n')}\nrsyslogd said:\n${receiver.output()}`;
    // Small batches: many sessions, so each restart below lands while sessions are in flight.
    const env = { AUDITOR_SIEM_URL: `tls://127.0.0.1:${receiver.port}`, AUDITOR_SIEM_CA_FILE: tls.caFile, AUDITOR_SIEM_BATCH_SIZE: '3', AUDITOR_SIEM_NAME: 'it-rsyslog' };
    const failuresBefore = await counter(auditorMetrics.siemFailures);

    await appendBoth(60);
    let forwarder = await startForwarder(env);
    try {
      // The receiver crashes mid-stream (a backlog of 120 rows, 3 a session) while rows keep coming.
      await expectEventually(() => expect(receiver.received().length).toBeGreaterThanOrEqual(20), { timeoutMs: 60_000, intervalMs: 5 });
      const crashedAt = receiver.received().length;
      await receiver.stop('SIGKILL');
      expect(crashedAt).toBeLessThan(100);
      await appendBoth(20);
      // The forwarder notices (a broken session, then connection refused) and backs off.
      await expectEventually(async () => expect(await counter(auditorMetrics.siemFailures)).toBeGreaterThan(failuresBefore), { timeoutMs: 30_000 });
      await receiver.restart();

      // An orderly receiver restart mid-stream: it closes its sessions, unread bytes and all.
      await expectEventually(() => expect(receiver.received().length).toBeGreaterThanOrEqual(crashedAt + 30), { timeoutMs: 60_000, intervalMs: 5 });
      await receiver.stop('SIGTERM');
      await receiver.restart();

      // The forwarder restarts (a new process would do the same): it resumes from the cursor in the database.
      await expectEventually(() => expect(receiver.received().length).toBeGreaterThanOrEqual(crashedAt + 60), { timeoutMs: 60_000, intervalMs: 5 });
      await stopForwarder(forwarder);
      await appendBoth(10);
      forwarder = await startForwarder(env);

      const expected = await heads();
      expect(expected).toEqual(new Map([['acme', 90], ['globex', 90]]));
      await expectEventually(
        async () => {
          const lines = receiver.received();
          try {
            checkDelivery(lines, expected);
          } catch (error) {
            throw new Error(`${(error as Error).message}\n${report()}`);
          }
          expect(await cursors('it-rsyslog')).toEqual(expected);
        },
        { timeoutMs: 90_000, intervalMs: 200 },
      );
      expect(await counter(auditorMetrics.siemLagRows)).toBe(0);
      const lines = receiver.received().length;
      process.stderr.write(`[siem] ${lines} messages received for 180 rows (${lines - 180} sent again after a failure); ${(await counter(auditorMetrics.siemFailures)) - failuresBefore} failed sessions\n`);
    } catch (error) {
      process.stderr.write(`${report()}\n`);
      throw error;
    } finally {
      await stopForwarder(forwarder);
    }
  }, 300_000);

  it('refuses a receiver whose certificate does not chain to the configured CA (man in the middle): nothing sent, cursor unmoved', async () => {
    const trusted = ensureDevCertificates(join(dir, 'trusted-ca'));
    // The attacker's receiver: a valid certificate for 127.0.0.1, from a CA of its own.
    const mallory = await startRsyslog(join(dir, 'mallory'), ensureDevCertificates(join(dir, 'mallory-ca')));
    receivers.push(mallory);
    await appendBoth(2);
    const tlsBefore = await counter(auditorMetrics.siemFailures, { reason: 'tls' });
    const forwarder = await startForwarder({ AUDITOR_SIEM_URL: `tls://127.0.0.1:${mallory.port}`, AUDITOR_SIEM_CA_FILE: trusted.caFile, AUDITOR_SIEM_NAME: 'it-mitm' });
    try {
      // Several tries, each refused at the handshake.
      await expectEventually(async () => expect(await counter(auditorMetrics.siemFailures, { reason: 'tls' })).toBeGreaterThanOrEqual(tlsBefore + 3), { timeoutMs: 30_000 });
    } finally {
      await stopForwarder(forwarder);
    }
    expect(mallory.received()).toEqual([]);
    expect(await cursors('it-mitm')).toEqual(new Map());
    // The same receiver is accepted once the forwarder trusts its CA: the refusal was the certificate, not the receiver.
    const trusting = await startForwarder({ AUDITOR_SIEM_URL: `tls://127.0.0.1:${mallory.port}`, AUDITOR_SIEM_CA_FILE: join(dir, 'mallory-ca', 'ca.pem'), AUDITOR_SIEM_NAME: 'it-mitm' });
    try {
      await expectEventually(() => expect(mallory.received().length).toBeGreaterThan(0), { timeoutMs: 60_000 });
    } finally {
      await stopForwarder(trusting);
    }
  }, 180_000);
});
