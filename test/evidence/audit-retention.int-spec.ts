// Retention on a real Postgres, nats-server and auditor: a tenant's rows recorded in January and
// February 2026 (written as the database would have appended them then, sealed with the auditor's
// key), more appended now by the service itself. Archive → verify → drop → the chain still
// verifies, online and from the archive; tampering on either side of the gap is still named; a
// drop is refused before retention has passed, to the auditor's own role, and when the archive
// does not verify.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { subjectFor } from '@autoheal/contracts';
import { chainNext, EMPTY_HEAD, readBundleDir, signPoint, verifyArchive, verifyBundle, type ChainBreak, type ChainedRow, type Tombstone } from '@autoheal/evidence';
import { createTestDatabase, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { AuditLogService } from '../../apps/auditor/src/audit-log/audit-log.service';
import { auditorDataSource } from '../../apps/auditor/src/data-source';
import { ROW_SEALER, type RowSealer } from '../../apps/auditor/src/evidence/row-sealer';
import { incidentOpened, OPS_KEY, startAuditor, type RunningAuditor } from '../../apps/auditor/src/test-support/auditor';
import { run } from '../../apps/cli/src/program';
import { RetentionService } from '../../apps/auditor/src/retention/retention.service';

jest.setTimeout(180_000);

const TENANT = 'acme';

describe('audit retention (real Postgres, nats-server and auditor)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let auditor: RunningAuditor;
  let superuser: Client;
  let owner: DataSource;
  let archiveDir: string;
  let retention: RetentionService;
  let history: ChainedRow[];

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    archiveDir = mkdtempSync(join(tmpdir(), 'autoheal-archive-'));
    auditor = await startAuditor({
      databaseUrl: db.roleUrl('auditor'),
      natsUrl: nats.url,
      extraEnv: {
        AUDITOR_ARCHIVE_DIR: archiveDir,
        AUDITOR_RETENTION_INTERVAL_MS: '0',
        AUDITOR_READ_BURST: '100000',
        AUDITOR_READ_RATE_PER_MINUTE: '100000',
        AUDITOR_FULL_VERIFY_PER_HOUR: '3600000000',
        // Reads are recorded (appended) when their window closes: not while the test counts rows.
        AUDITOR_READ_RECORD_WINDOW_SECONDS: '3600',
      },
    });
    superuser = new Client({ connectionString: db.url });
    await superuser.connect();
    owner = auditorDataSource(db.roleUrl('owner'));
    await owner.initialize();
    retention = auditor.app.get(RetentionService);
    history = await writeHistory();
  });

  afterAll(async () => {
    await auditor?.stop();
    if (owner?.isInitialized) await owner.destroy();
    await superuser?.end();
    await db?.drop();
    await nats?.stop();
    if (archiveDir) rmSync(archiveDir, { recursive: true, force: true });
  });

  /**
   * Seq 1–4 recorded in January 2026 (seq 1: the tenant's document applied, PCI DSS), 5–8 in
   * February, each sealed as the auditor seals; then two events appended by the service now.
   */
  async function writeHistory(): Promise<ChainedRow[]> {
    const sealer = auditor.app.get<RowSealer>(ROW_SEALER);
    await superuser.query(`SELECT auditor.audit_ensure_partitions('2026-01-01T00:00:00Z', 1)`);
    const rows: ChainedRow[] = [];
    let head = EMPTY_HEAD;
    for (let i = 0; i < 8; i++) {
      const at = new Date(Date.UTC(2026, i < 4 ? 0 : 1, 3 + i, 12)).toISOString();
      const policy = i === 0;
      const row = chainNext(head, {
        tenantId: TENANT,
        eventId: `old-${i}`,
        eventType: policy ? 'compliance.policy_changed' : 'incident.opened',
        occurredAt: at,
        recordedAt: at,
        actor: policy ? 'person:ops' : 'detector',
        action: policy ? 'policy.apply' : 'incident.open',
        outcome: 'info',
        resource: { service: 'api' },
        source: policy ? 'compliance.acme.policy_changed' : 'incident.acme.opened',
        correlationId: null,
        causationId: null,
        traceId: null,
        payload: policy ? { data: { policyVersion: 'v1', previousVersion: null, changedBy: 'person:ops', changes: [{ path: 'frameworks', to: ['PCI_DSS'] }] } } : { n: i },
      });
      await superuser.query(
        `INSERT INTO auditor.audit_log (tenant_id, seq, event_id, event_type, occurred_at, recorded_at, actor, action, resource, outcome, source, correlation_id, causation_id, trace_id, payload, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
        [row.tenantId, row.seq, row.eventId, row.eventType, row.occurredAt, row.recordedAt, row.actor, row.action, row.resource, row.outcome, row.source, null, null, null, row.payload, row.prevHash, row.hash],
      );
      const seal = signPoint('seal', sealer.key, { tenantId: TENANT, seq: row.seq, headHash: row.hash, signedAt: at });
      await superuser.query(`INSERT INTO auditor.audit_seals (tenant_id, seq, head_hash, signed_at, key_id, signature) VALUES ($1, $2, $3, $4, $5, $6)`, [
        seal.tenantId,
        seal.seq,
        seal.headHash,
        seal.signedAt,
        seal.keyId,
        seal.signature,
      ]);
      rows.push(row);
      head = row;
    }
    const service = auditor.app.get(AuditLogService);
    for (let i = 0; i < 2; i++) {
      const event = incidentOpened(TENANT, undefined, `now-${i}`);
      await service.recordEvent(event, { subject: subjectFor(event) });
    }
    return rows;
  }

  async function verify(): Promise<{ ok: boolean; headSeq: number; checkedRows: number; firstBreak: ChainBreak | null }> {
    const response = await fetch(`${auditor.baseUrl}/v1/tenants/${TENANT}/audit/verify?full=true`, { headers: { authorization: `Bearer ${OPS_KEY}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as { ok: boolean; headSeq: number; checkedRows: number; firstBreak: ChainBreak | null };
  }

  /** `autoheal audit verify-bundle …` as a person runs it: no database, no network. */
  async function verifyBundleCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(['audit', 'verify-bundle', ...args], {}, { out: (line: string) => out.push(line), err: (line: string) => err.push(line), now: () => new Date() });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  const seqsInDatabase = async () => (await superuser.query(`SELECT seq FROM auditor.audit_log WHERE tenant_id = $1 ORDER BY seq`, [TENANT])).rows.map((r: { seq: string }) => Number(r.seq));
  const partitions = async () => (await superuser.query(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'auditor.audit_log'::regclass`)).rows.map((r: { relname: string }) => r.relname);
  const tombstones = async (): Promise<Tombstone[]> =>
    (await superuser.query(`SELECT * FROM auditor.audit_tombstones WHERE tenant_id = $1 ORDER BY from_seq`, [TENANT])).rows.map((r: Record<string, unknown>) => ({
      tenantId: r.tenant_id as string,
      fromSeq: Number(r.from_seq),
      toSeq: Number(r.to_seq),
      hashBefore: r.hash_before as string,
      hashAfter: r.hash_after as string,
      manifestSha256: r.manifest_sha256 as string,
      partition: r.partition_name as string,
      signedAt: (r.signed_at as Date).toISOString(),
      keyId: r.key_id as string,
      signature: r.signature as string,
    }));
  /** As a superuser past the append-only triggers, what owning the database allows. */
  async function tamper(sql: string, params: unknown[]): Promise<void> {
    await superuser.query('BEGIN');
    await superuser.query(`SET LOCAL session_replication_role = replica`);
    await superuser.query(sql, params);
    await superuser.query('COMMIT');
  }

  it('archive → verify → drop → the chain still verifies; refusals on the way', async () => {
    expect(await seqsInDatabase()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await verify()).toMatchObject({ ok: true, headSeq: 10, firstBreak: null });

    // Inside the online window (PCI DSS: 92 days after the month ends): nothing is archived.
    const early = await retention.run({ now: new Date('2026-03-15T00:00:00Z'), owner });
    expect(early.find((p) => p.partition === 'audit_log_p2026_01')).toMatchObject({ stage: 'online', archived: [], dropped: null });
    expect(existsSync(join(archiveDir, 'audit_log_p2026_01'))).toBe(false);

    // Past the online window, inside the retention: archived and verified, not dropped.
    const archived = await retention.run({ now: new Date('2026-06-01T00:00:00Z'), owner });
    expect(archived.filter((p) => p.partition === 'audit_log_p2026_01' || p.partition === 'audit_log_p2026_02')).toEqual([
      { partition: 'audit_log_p2026_01', stage: 'archive', tenants: [TENANT], archived: [TENANT], dropped: null, problem: null },
      { partition: 'audit_log_p2026_02', stage: 'archive', tenants: [TENANT], archived: [TENANT], dropped: null, problem: null },
    ]);
    const janArchive = join(archiveDir, 'audit_log_p2026_01', TENANT);
    expect(verifyBundle(readBundleDir(janArchive))).toMatchObject({ ok: true, fromSeq: 1, toSeq: 4, checkedRows: 4 });
    const records = await superuser.query(`SELECT partition_name, from_seq, to_seq, verified_at IS NOT NULL AS verified, retain_until FROM auditor.audit_archives ORDER BY partition_name`);
    expect(records.rows).toEqual([
      { partition_name: 'audit_log_p2026_01', from_seq: '1', to_seq: '4', verified: true, retain_until: new Date('2027-02-01T00:00:00Z') },
      { partition_name: 'audit_log_p2026_02', from_seq: '5', to_seq: '8', verified: true, retain_until: new Date('2027-03-01T00:00:00Z') },
    ]);

    // Before retention has passed, the owner's drop refuses, naming why; the auditor's own role may not call it, nor delete.
    await expect(owner.query(`SELECT auditor.audit_drop_partition('audit_log_p2026_01', '2026-06-01T00:00:00Z')`)).rejects.toThrow(/cannot be dropped: acme \(retained until/);
    const asAuditor = new Client({ connectionString: db.roleUrl('auditor') });
    await asAuditor.connect();
    try {
      await expect(asAuditor.query(`SELECT auditor.audit_drop_partition('audit_log_p2026_01', '2030-01-01T00:00:00Z')`)).rejects.toThrow(/permission denied/);
      await expect(asAuditor.query(`DROP TABLE auditor.audit_log_p2026_01`)).rejects.toThrow(/must be owner/);
      await expect(asAuditor.query(`DELETE FROM auditor.audit_log WHERE tenant_id = $1`, [TENANT])).rejects.toThrow(/permission denied/);
    } finally {
      await asAuditor.end();
    }
    expect(await seqsInDatabase()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

    // February's archive corrupted on disk: at the drop it fails its check and February stays; January, intact, goes.
    const febRows = join(archiveDir, 'audit_log_p2026_02', TENANT, 'rows.jsonl');
    const intactFeb = readFileSync(febRows, 'utf8');
    writeFileSync(febRows, intactFeb.replace('"actor":"detector"', '"actor":"someone"'));
    const dropped = await retention.run({ now: new Date('2027-03-15T00:00:00Z'), owner });
    expect(dropped.find((p) => p.partition === 'audit_log_p2026_01')).toMatchObject({ stage: 'drop', dropped: 4, problem: null });
    expect(dropped.find((p) => p.partition === 'audit_log_p2026_02')).toMatchObject({ stage: 'drop', dropped: null, problem: expect.stringMatching(/archive of acme does not verify/) as string });
    expect(await partitions()).not.toContain('audit_log_p2026_01');
    expect(await partitions()).toContain('audit_log_p2026_02');
    expect(await seqsInDatabase()).toEqual([5, 6, 7, 8, 9, 10]);
    expect((await superuser.query<{ verified_at: Date | null }>(`SELECT verified_at FROM auditor.audit_archives WHERE partition_name = 'audit_log_p2026_02'`)).rows[0].verified_at).toBeNull();

    // The chain verifies across the gap: online from January's tombstone, and January's archive against it, offline.
    expect(await verify()).toMatchObject({ ok: true, headSeq: 10, checkedRows: 6, firstBreak: null });
    const [jan] = await tombstones();
    expect(jan).toMatchObject({ tenantId: TENANT, fromSeq: 1, toSeq: 4, hashBefore: '0'.repeat(64), hashAfter: history[3].hash, partition: 'audit_log_p2026_01' });
    const keys = auditor.app.get<RowSealer>(ROW_SEALER).key;
    const resolve = (keyId: string) => (keyId === keys.keyId ? keys.publicKey : null);
    expect(verifyArchive(readBundleDir(janArchive), jan, resolve)).toMatchObject({ ok: true, checkedRows: 4, tombstoneProblems: [] });
    // The same with the command an auditor runs on their own machine, the tombstone written beside the archive.
    expect(JSON.parse(readFileSync(`${janArchive}.tombstone.json`, 'utf8'))).toEqual(jan);
    const trustedKeys = join(archiveDir, 'trusted-keys.json');
    writeFileSync(trustedKeys, JSON.stringify(await (await fetch(`${auditor.baseUrl}/v1/audit/keys`, { headers: { authorization: `Bearer ${OPS_KEY}` } })).json()));
    const cli = await verifyBundleCli([janArchive, '--trusted-keys', trustedKeys, '--tombstone', `${janArchive}.tombstone.json`]);
    expect(cli).toMatchObject({ code: 0, out: expect.stringContaining(`intact: ${janArchive}`) as string });

    // The next pass archives February again from the database (the corrupt copy kept aside), verifies it and drops.
    const again = await retention.run({ now: new Date('2027-03-15T00:00:00Z'), owner });
    expect(again.find((p) => p.partition === 'audit_log_p2026_02')).toMatchObject({ stage: 'drop', archived: [TENANT], dropped: 4, problem: null });
    expect(await seqsInDatabase()).toEqual([9, 10]);
    expect(await verify()).toMatchObject({ ok: true, headSeq: 10, checkedRows: 2, firstBreak: null });
    const [, feb] = await tombstones();
    expect(feb).toMatchObject({ fromSeq: 5, toSeq: 8, hashBefore: history[3].hash, hashAfter: history[7].hash });
    expect(verifyArchive(readBundleDir(join(archiveDir, 'audit_log_p2026_02', TENANT)), feb, resolve)).toMatchObject({ ok: true, tombstoneProblems: [] });

    // An export of what is online verifies offline too (the range starts after the gap, at the first row online).
    const exported = await fetch(`${auditor.baseUrl}/v1/tenants/${TENANT}/audit/export`, { headers: { authorization: `Bearer ${OPS_KEY}` } });
    const { files } = (await exported.json()) as { files: Record<string, string> };
    expect(verifyBundle(new Map(Object.entries(files).map(([name, text]) => [name, Buffer.from(text)])))).toMatchObject({ ok: true, fromSeq: 9, toSeq: 10 });

    // Appends go on after the gap.
    const service = auditor.app.get(AuditLogService);
    const event = incidentOpened(TENANT, undefined, 'after-drop');
    await service.recordEvent(event, { subject: subjectFor(event) });
    expect(await verify()).toMatchObject({ ok: true, headSeq: 11 });
  });

  it('still names tampering on either side of the gap', async () => {
    expect(await verify()).toMatchObject({ ok: true });

    // Online side: the first row after the gap edited.
    const [first] = (await superuser.query(`SELECT actor FROM auditor.audit_log WHERE tenant_id = $1 AND seq = 9`, [TENANT])).rows as { actor: string }[];
    await tamper(`UPDATE auditor.audit_log SET actor = 'someone' WHERE tenant_id = $1 AND seq = 9`, [TENANT]);
    expect((await verify()).firstBreak).toMatchObject({ seq: 9, reason: 'hash_mismatch' });
    await tamper(`UPDATE auditor.audit_log SET actor = $2 WHERE tenant_id = $1 AND seq = 9`, [TENANT, first.actor]);
    expect(await verify()).toMatchObject({ ok: true });

    // The first row after the gap deleted: the chain no longer joins the tombstone.
    const saved = (await superuser.query(`SELECT * FROM auditor.audit_log WHERE tenant_id = $1 AND seq = 9`, [TENANT])).rows[0] as Record<string, unknown>;
    await tamper(`DELETE FROM auditor.audit_log WHERE tenant_id = $1 AND seq = 9`, [TENANT]);
    expect((await verify()).firstBreak).toMatchObject({ seq: 9, reason: 'seq_gap' });
    const columns = Object.keys(saved);
    await superuser.query(
      `INSERT INTO auditor.audit_log (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
      columns.map((c) => saved[c]),
    );
    expect(await verify()).toMatchObject({ ok: true });

    // The gap itself: a tombstone rewritten to vouch for another end of the archived range.
    const [jan] = await tombstones();
    await tamper(`UPDATE auditor.audit_tombstones SET hash_after = $2 WHERE tenant_id = $1 AND from_seq = 1`, [TENANT, 'f'.repeat(64)]);
    expect((await verify()).firstBreak).toMatchObject({ seq: 1, reason: 'tombstone_invalid' });
    await tamper(`UPDATE auditor.audit_tombstones SET hash_after = $2 WHERE tenant_id = $1 AND from_seq = 1`, [TENANT, jan.hashAfter]);
    expect(await verify()).toMatchObject({ ok: true });

    // Archive side: a row of January's archive edited is named offline, by the bundle and against its tombstone.
    const janArchive = join(archiveDir, 'audit_log_p2026_01', TENANT);
    const rowsFile = join(janArchive, 'rows.jsonl');
    writeFileSync(rowsFile, readFileSync(rowsFile, 'utf8').replace('"n":2', '"n":20'));
    const keys = auditor.app.get<RowSealer>(ROW_SEALER).key;
    const checked = verifyArchive(readBundleDir(janArchive), jan, (keyId) => (keyId === keys.keyId ? keys.publicKey : null));
    expect(checked.ok).toBe(false);
    expect(checked.problems).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'file_hash_mismatch', file: 'rows.jsonl' })]));
    expect(checked.firstBreak).toMatchObject({ seq: 3, reason: 'hash_mismatch' });
    const cli = await verifyBundleCli([janArchive, '--tombstone', `${janArchive}.tombstone.json`]);
    expect(cli.code).toBe(1);
    expect(cli.out).toMatch(/NOT INTACT[\s\S]*first break: hash_mismatch at seq 3/);
  });
});
