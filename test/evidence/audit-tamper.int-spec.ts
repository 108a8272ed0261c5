// The audit trail's evidence under attack: someone who owns the database (the owner role, or a
// superuser) gets past the append-only triggers and edits, deletes, inserts, reorders, re-hashes,
// truncates, or adds a well-chained row of their own. `GET …/audit/verify` (the real auditor, on
// real Postgres and a real nats-server) and `autoheal audit verify-bundle` on an export (no
// database, no network) must each find it and name where.
import { createHash } from 'node:crypto';
import { generateSigningKey, publicKeyToBase64 } from '@autoheal/security';
import { signPoint } from '@autoheal/evidence';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import { checkpointSubject, STREAMS, subjectFor } from '@autoheal/contracts';
import type { BundleVerification, ChainBreak, SignedPoint } from '@autoheal/evidence';
import { closeNats, connectNats } from '@autoheal/messaging';
import { createTestDatabase, expectEventually, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { AuditLogService } from '../../apps/auditor/src/audit-log/audit-log.service';
import { incidentOpened, OPS_KEY, startAuditor, type RunningAuditor } from '../../apps/auditor/src/test-support/auditor';
import { run } from '../../apps/cli/src/program';

jest.setTimeout(180_000);

const ROWS = 10;

describe('audit evidence against a database owner (real Postgres, nats-server and auditor)', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let owner: Client;
  let superuser: Client;
  let nc: NatsConnection;
  let auditor: RunningAuditor;
  let work: string;
  let trustedKeysFile: string;

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    work = mkdtempSync(join(tmpdir(), 'autoheal-evidence-'));
    auditor = await startAuditor({
      databaseUrl: db.roleUrl('auditor'),
      natsUrl: nats.url,
      extraEnv: {
        AUDITOR_READ_BURST: '100000',
        AUDITOR_READ_RATE_PER_MINUTE: '100000',
        // Every case runs full verifications and exports back to back: a budget that refills at once (burst 1 is the limiter's).
        AUDITOR_FULL_VERIFY_PER_HOUR: '3600000000',
        AUDITOR_CHECKPOINT_EVERY_ROWS: '4',
        AUDITOR_CHECKPOINT_EVERY_SECONDS: '3600',
        AUDITOR_CHECKPOINT_DIR: join(work, 'checkpoints'),
      },
    });
    owner = new Client({ connectionString: db.roleUrl('owner') });
    await owner.connect();
    superuser = new Client({ connectionString: db.url });
    await superuser.connect();
    nc = await connectNats({ servers: nats.url, name: 'audit-tamper-int-spec' });
    // The verifier's own copy of the auditor's keys, taken before any attack.
    const keys = await api('GET', '/v1/audit/keys');
    trustedKeysFile = join(work, 'trusted-keys.json');
    writeFileSync(trustedKeysFile, JSON.stringify(keys.body));
  });

  afterAll(async () => {
    await auditor?.stop();
    if (nc) await closeNats(nc);
    await owner?.end();
    await superuser?.end();
    await db?.drop();
    await nats?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** What the routes used here answer, loosely: each test reads the fields of its route. */
  interface Answer {
    checkpoint: SignedPoint;
    created: boolean;
    keys: { keyId: string; publicKey: string }[];
    ok: boolean;
    firstBreak: ChainBreak | null;
    [field: string]: unknown;
  }

  async function api(method: 'GET' | 'POST', path: string): Promise<{ status: number; body: Answer }> {
    const response = await fetch(`${auditor.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${OPS_KEY}` } });
    return { status: response.status, body: (await response.json()) as Answer };
  }

  /**
   * ROWS events recorded by the auditor's own service, checkpointed on the cadence (every 4 rows)
   * and once more on demand at the head. The cadence's checkpoint runs in the background and signs
   * whatever the head is when it reads it: the history waits for it after the fourth row, or on a
   * loaded machine it may read the head only after the last row (one checkpoint, not two).
   */
  async function history(tenantId: string): Promise<void> {
    const service = auditor.app.get(AuditLogService);
    for (let i = 0; i < ROWS; i++) {
      const event = incidentOpened(tenantId, undefined, `i-${i}`);
      await service.recordEvent(event, { subject: subjectFor(event) });
      if (i === 3) await expectEventually(async () => expect((await storedCheckpoints(tenantId)).length).toBeGreaterThanOrEqual(1), { timeoutMs: 30_000 });
    }
    const made = await api('POST', `/v1/tenants/${tenantId}/audit/checkpoints`);
    expect(made.status).toBe(201);
    expect(made.body.checkpoint).toMatchObject({ tenantId, seq: ROWS });
    await expectEventually(async () => {
      const stored = await storedCheckpoints(tenantId);
      expect(stored).toContain(ROWS);
      expect(stored.length).toBeGreaterThanOrEqual(2);
    });
    const clean = await verify(tenantId);
    expect(clean).toMatchObject({ ok: true, headSeq: ROWS, firstBreak: null, latestCheckpointSeq: ROWS, externalCheckpoints: 'consulted' });
  }

  async function storedCheckpoints(tenantId: string): Promise<number[]> {
    const stored = await superuser.query<{ seq: string }>(`SELECT seq FROM auditor.checkpoints WHERE tenant_id = $1 ORDER BY seq`, [tenantId]);
    return stored.rows.map((r) => Number(r.seq));
  }

  /** As the owner, with the append-only triggers off (what owning the table allows). */
  async function asOwner(sql: string, params: unknown[] = []): Promise<void> {
    await owner.query('BEGIN');
    try {
      for (const table of ['audit_log', 'audit_seals', 'checkpoints']) await owner.query(`ALTER TABLE auditor.${table} DISABLE TRIGGER USER`);
      await owner.query(sql, params);
      for (const table of ['audit_log', 'audit_seals', 'checkpoints']) await owner.query(`ALTER TABLE auditor.${table} ENABLE TRIGGER USER`);
      await owner.query('COMMIT');
    } catch (error) {
      await owner.query('ROLLBACK');
      throw error;
    }
  }

  /** Recomputes prev_hash and hash of every row from `fromSeq` on, as an attacker covering their tracks would. */
  function rehashFrom(tenantId: string, fromSeq: number): string {
    return `DO $$
      DECLARE r record; prev text;
      BEGIN
        SELECT hash INTO prev FROM auditor.audit_log WHERE tenant_id = '${tenantId}' AND seq = ${fromSeq - 1};
        prev := coalesce(prev, repeat('0', 64));
        FOR r IN SELECT * FROM auditor.audit_log WHERE tenant_id = '${tenantId}' AND seq >= ${fromSeq} ORDER BY seq LOOP
          UPDATE auditor.audit_log SET prev_hash = prev,
            hash = auditor.audit_row_hash(r.tenant_id, r.seq, prev, r.event_id, r.event_type, r.occurred_at, r.recorded_at, r.actor, r.action,
                                          r.outcome, r.resource, r.source, r.correlation_id, r.causation_id, r.trace_id, r.payload)
          WHERE tenant_id = r.tenant_id AND seq = r.seq RETURNING hash INTO prev;
        END LOOP;
      END $$`;
  }

  async function verify(tenantId: string): Promise<Answer> {
    const answer = await api('GET', `/v1/tenants/${tenantId}/audit/verify?full=true`);
    expect(answer.status).toBe(200);
    return answer.body;
  }

  async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(args, { AUTOHEAL_ADMIN_KEY: OPS_KEY }, { out: (l) => out.push(l), err: (l) => err.push(l), now: () => new Date() });
    return { code, out, err };
  }

  async function exportBundle(tenantId: string): Promise<string> {
    const dir = join(work, `${tenantId}-${Date.now()}`);
    const exported = await cli(['audit', 'export', tenantId, '--out', dir, '--auditor-url', auditor.baseUrl]);
    expect({ code: exported.code, err: exported.err }).toEqual({ code: 0, err: [] });
    return dir;
  }

  async function verifyBundle(dir: string): Promise<{ code: number; report: BundleVerification }> {
    const checked = await cli(['audit', 'verify-bundle', dir, '--trusted-keys', trustedKeysFile, '--json']);
    return { code: checked.code, report: JSON.parse(checked.out.join('\n')) as BundleVerification };
  }

  it('an untouched trail verifies, and so does its export, offline against the keys taken beforehand', async () => {
    await history('intact');
    const dir = await exportBundle('intact');
    const { code, report } = await verifyBundle(dir);
    expect({ code, ok: report.ok, problems: report.problems, firstBreak: report.firstBreak }).toEqual({ code: 0, ok: true, problems: [], firstBreak: null });
    expect(report).toMatchObject({ tenantId: 'intact', fromSeq: 1, toSeq: ROWS, checkedRows: ROWS });
    const human = await cli(['audit', 'verify-bundle', dir, '--trusted-keys', trustedKeysFile]);
    expect(human.out[0]).toMatch(/^intact: /);
  });

  it('documents the evidence routes in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${auditor.baseUrl}/docs-json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/v1/tenants/{tenantId}/audit/export'] ?? {})).toEqual(['get']);
    expect(Object.keys(doc.paths['/v1/tenants/{tenantId}/audit/checkpoints'] ?? {})).toEqual(['post']);
    expect(Object.keys(doc.paths['/v1/audit/keys'] ?? {})).toEqual(['get']);
  });

  /**
   * A row of the attacker's own after seq ROWS, chained and hashed as the auditor would (as a
   * superuser, session_replication_role = replica: no trigger stops it); no seal can be made for it.
   */
  async function forgeRowAtHead(t: string, suffix: string): Promise<void> {
    await superuser.query('BEGIN');
    await superuser.query('SET LOCAL session_replication_role = replica');
    await superuser.query(
      `INSERT INTO auditor.audit_log
         SELECT tenant_id, seq + 1, event_id || '-' || $2, event_type, occurred_at, recorded_at, 'mallory', action, resource, outcome, source,
                correlation_id, causation_id, trace_id, payload, hash,
                auditor.audit_row_hash(tenant_id, seq + 1, hash, event_id || '-' || $2, event_type, occurred_at, recorded_at, 'mallory', action, outcome,
                                       resource, source, correlation_id, causation_id, trace_id, payload)
           FROM auditor.audit_log WHERE tenant_id = $1 AND seq = ${ROWS}`,
      [t, suffix],
    );
    await superuser.query('COMMIT');
  }

  type Expected = { seq: number; reason: ChainBreak['reason']; lastSeq?: number };
  const tampers: [name: string, tamper: (t: string) => Promise<void>, expected: Expected][] = [
    ['an edited row', (t) => asOwner(`UPDATE auditor.audit_log SET actor = 'mallory' WHERE tenant_id = $1 AND seq = 5`, [t]), { seq: 5, reason: 'hash_mismatch' }],
    ['a deleted row', (t) => asOwner(`DELETE FROM auditor.audit_log WHERE tenant_id = $1 AND seq = 5`, [t]), { seq: 5, reason: 'seq_gap' }],
    [
      'an inserted row (the rows after it renumbered)',
      async (t) => {
        await asOwner(`DO $$ BEGIN FOR s IN REVERSE ${ROWS}..5 LOOP UPDATE auditor.audit_log SET seq = s + 1 WHERE tenant_id = '${t}' AND seq = s; END LOOP; END $$`);
        await asOwner(
          `INSERT INTO auditor.audit_log SELECT tenant_id, 5, event_id || '-forged', event_type, occurred_at, recorded_at, 'mallory', action, resource, outcome, source,
             correlation_id, causation_id, trace_id, payload, prev_hash, hash FROM auditor.audit_log WHERE tenant_id = $1 AND seq = 6`,
          [t],
        );
      },
      { seq: 5, reason: 'hash_mismatch' },
    ],
    [
      'two rows swapped',
      (t) =>
        asOwner(
          `UPDATE auditor.audit_log SET seq = 999 WHERE tenant_id = '${t}' AND seq = 5;
           UPDATE auditor.audit_log SET seq = 5 WHERE tenant_id = '${t}' AND seq = 6;
           UPDATE auditor.audit_log SET seq = 6 WHERE tenant_id = '${t}' AND seq = 999;`,
        ),
      { seq: 5, reason: 'prev_hash_mismatch' },
    ],
    [
      'an edited row with the chain recomputed after it',
      async (t) => {
        await asOwner(`UPDATE auditor.audit_log SET actor = 'mallory' WHERE tenant_id = $1 AND seq = 5`, [t]);
        await asOwner(rehashFrom(t, 5));
      },
      { seq: 5, reason: 'seal_mismatch' },
    ],
    [
      'a deleted row, renumbered and re-hashed, its seal deleted too',
      async (t) => {
        await asOwner(`DELETE FROM auditor.audit_log WHERE tenant_id = $1 AND seq = 5`, [t]);
        await asOwner(`DO $$ BEGIN FOR s IN 6..${ROWS} LOOP UPDATE auditor.audit_log SET seq = s - 1 WHERE tenant_id = '${t}' AND seq = s; END LOOP; END $$`);
        await asOwner(`DELETE FROM auditor.audit_seals WHERE tenant_id = $1 AND seq = ${ROWS}`, [t]);
        await asOwner(rehashFrom(t, 5));
      },
      { seq: 5, reason: 'seal_mismatch' },
    ],
    [
      'the last rows removed, with their seals and checkpoints',
      async (t) => {
        await asOwner(`DELETE FROM auditor.audit_log WHERE tenant_id = $1 AND seq >= 8`, [t]);
        await asOwner(`DELETE FROM auditor.audit_seals WHERE tenant_id = $1 AND seq >= 8`, [t]);
        await asOwner(`DELETE FROM auditor.checkpoints WHERE tenant_id = $1 AND seq >= 8`, [t]);
      },
      { seq: 8, lastSeq: ROWS, reason: 'rows_missing' },
    ],
    [
      'a well-chained row of the attacker’s own at the end (as a superuser, session_replication_role = replica)',
      (t) => forgeRowAtHead(t, 'forged'),
      { seq: ROWS + 1, reason: 'unsealed_row' },
    ],
    [
      'a well-chained row of the attacker’s own slipped in between two of the auditor’s appends (the auditor chains its next rows onto it)',
      async (t) => {
        await forgeRowAtHead(t, 'slipped');
        // The auditor's next transaction appends two rows after it and seals them as one range.
        const service = auditor.app.get(AuditLogService);
        const next = [incidentOpened(t, undefined, 'after-1'), incidentOpened(t, undefined, 'after-2')];
        expect(await Promise.all(next.map((e) => service.recordEvent(e, { subject: subjectFor(e) })))).toEqual(['appended', 'appended']);
        const seals = await superuser.query<{ from_seq: string; seq: string }>(`SELECT from_seq, seq FROM auditor.audit_seals WHERE tenant_id = $1 AND seq > ${ROWS}`, [t]);
        expect(seals.rows).toEqual([{ from_seq: String(ROWS + 2), seq: String(ROWS + 3) }]);
      },
      { seq: ROWS + 1, reason: 'unsealed_row' },
    ],
  ];

  it.each(tampers)('%s is found by verify and by verify-bundle, which name where', async (name, tamper, expected) => {
    const tenantId = `t${tampers.findIndex(([n]) => n === name)}`;
    await history(tenantId);
    await tamper(tenantId);

    const where = { seq: expected.seq, reason: expected.reason, ...(expected.lastSeq !== undefined ? { lastSeq: expected.lastSeq } : {}) };
    // Exported first: a verification that finds a break appends its verdict to the trail (a new row at the head).
    const { code, report } = await verifyBundle(await exportBundle(tenantId));
    expect({ code, ok: report.ok, firstBreak: report.firstBreak, problems: report.problems }).toMatchObject({ code: 1, ok: false, firstBreak: where, problems: [] });

    const online = await verify(tenantId);
    expect({ ok: online.ok, firstBreak: online.firstBreak }).toMatchObject({ ok: false, firstBreak: where });
  });

  it('an incremental verify sees a re-hashed rewrite before its verified point, through the checkpoint on the stream', async () => {
    const tenantId = 'incremental';
    await history(tenantId); // the last verification (full) left the verified point at the head
    await asOwner(`UPDATE auditor.audit_log SET actor = 'mallory' WHERE tenant_id = $1 AND seq = 2`, [tenantId]);
    await asOwner(rehashFrom(tenantId, 2));
    await asOwner(`UPDATE auditor.verify_points SET hash = (SELECT hash FROM auditor.audit_log WHERE tenant_id = $1 AND seq = ${ROWS}) WHERE tenant_id = $1`, [tenantId]);
    const answer = await api('GET', `/v1/tenants/${tenantId}/audit/verify`);
    expect(answer.body).toMatchObject({ ok: false, full: false, fromSeq: ROWS, firstBreak: { reason: 'checkpoint_mismatch', lastSeq: ROWS } });
  });

  it('a bundle edited after export is refused: the file against the manifest, the manifest against its signature', async () => {
    await history('edited-bundle');
    const dir = await exportBundle('edited-bundle');
    const rowsFile = join(dir, 'rows.jsonl');
    const rows = readFileSync(rowsFile, 'utf8').replace('"actor":"detector"', '"actor":"mallory"');
    writeFileSync(rowsFile, rows);
    const edited = await verifyBundle(dir);
    expect(edited.code).toBe(1);
    expect(edited.report.problems.map((p) => p.code)).toEqual(['file_hash_mismatch']);
    expect(edited.report.firstBreak).toMatchObject({ seq: 1, reason: 'hash_mismatch' });

    const manifestFile = join(dir, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { files: Record<string, unknown> };
    manifest.files['rows.jsonl'] = { sha256: createHash('sha256').update(rows).digest('hex'), bytes: Buffer.byteLength(rows) };
    writeFileSync(manifestFile, JSON.stringify(manifest));
    const resigned = await verifyBundle(dir);
    expect(resigned.report.problems.map((p) => p.code)).toEqual(['bad_manifest_signature']);
  });

  it('keeps checkpoints in the stream out of reach: delete and purge are refused and the checkpoint stays; the file sink has them too', async () => {
    await history('kept');
    const jsm = await jetstreamManager(nc);
    const stream = STREAMS.checkpoints.name;
    const last = await jsm.streams.getMessage(stream, { last_by_subj: checkpointSubject('kept') });
    expect(last?.json()).toMatchObject({ tenantId: 'kept', seq: ROWS });
    await expect(jsm.streams.deleteMessage(stream, last!.seq)).rejects.toThrow();
    await expect(jsm.streams.purge(stream, { filter: checkpointSubject('kept') })).rejects.toThrow();
    await expect(jsm.streams.update(stream, { deny_delete: false, deny_purge: false })).rejects.toThrow();
    expect((await jsm.streams.getMessage(stream, { last_by_subj: checkpointSubject('kept') }))?.json()).toMatchObject({ tenantId: 'kept', seq: ROWS });
    const lines = readFileSync(join(work, 'checkpoints', 'kept.checkpoints.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as SignedPoint);
    expect(lines[lines.length - 1]).toMatchObject({ tenantId: 'kept', seq: ROWS });
  });

  it('refuses a row sealed with a key the attacker put in the key history: verify names it, GET /v1/audit/keys does not list the key', async () => {
    const tenantId = 'forged-key';
    await history(tenantId);
    const mallory = generateSigningKey().key;
    await asOwner(`INSERT INTO auditor.signing_keys VALUES ($1, $2, now())`, [mallory.keyId, publicKeyToBase64(mallory.publicKey)]);
    await superuser.query('BEGIN');
    await superuser.query('SET LOCAL session_replication_role = replica');
    const forged = await superuser.query<{ hash: string }>(
      `INSERT INTO auditor.audit_log
         SELECT tenant_id, seq + 1, event_id || '-forged', event_type, occurred_at, recorded_at, 'mallory', action, resource, outcome, source,
                correlation_id, causation_id, trace_id, payload, hash,
                auditor.audit_row_hash(tenant_id, seq + 1, hash, event_id || '-forged', event_type, occurred_at, recorded_at, 'mallory', action, outcome,
                                       resource, source, correlation_id, causation_id, trace_id, payload)
           FROM auditor.audit_log WHERE tenant_id = $1 AND seq = ${ROWS} RETURNING hash`,
      [tenantId],
    );
    const seal = signPoint('seal', mallory, { tenantId, seq: ROWS + 1, headHash: forged.rows[0].hash, signedAt: new Date().toISOString() });
    await superuser.query(`INSERT INTO auditor.audit_seals VALUES ($1, $2, $3, $4, $5, $6)`, [seal.tenantId, seal.seq, seal.headHash, seal.signedAt, seal.keyId, seal.signature]);
    await superuser.query('COMMIT');

    const keys = await api('GET', '/v1/audit/keys');
    expect(keys.body.keys.map((k) => k.keyId)).not.toContain(mallory.keyId);
    const { report } = await verifyBundle(await exportBundle(tenantId));
    expect(report.firstBreak).toMatchObject({ seq: ROWS + 1, reason: 'seal_mismatch' });
    const online = (await verify(tenantId)).firstBreak;
    expect(online).toMatchObject({ seq: ROWS + 1, reason: 'seal_mismatch' });
    expect(online?.detail).toContain('unknown_key');
  });

  // Last: it replaces the running auditor with one holding a new key.
  it('after a key rotation, what the retired key signed still verifies (its key announced on the stream), and the export carries both keys', async () => {
    await history('rotated');
    const before = (await api('GET', '/v1/audit/keys')).body.keys;
    await auditor.stop();
    // A new key pair and a trust file that no longer lists the old auditor key.
    auditor = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url, extraEnv: { AUDITOR_FULL_VERIFY_PER_HOUR: '3600000000', AUDITOR_CHECKPOINT_DIR: join(work, 'checkpoints') } });
    const service = auditor.app.get(AuditLogService);
    const event = incidentOpened('rotated', undefined, 'after-rotation');
    await service.recordEvent(event, { subject: subjectFor(event) });
    // The stop also appended the old auditor's read record (audit.read): the head is past ROWS + 1.
    const made = (await api('POST', '/v1/tenants/rotated/audit/checkpoints')).body;
    expect(made).toMatchObject({ created: true, checkpoint: { tenantId: 'rotated' } });
    expect(made.checkpoint.seq).toBeGreaterThan(ROWS);

    expect(await verify('rotated')).toMatchObject({ ok: true, headSeq: made.checkpoint.seq, firstBreak: null, checkpointedSeq: made.checkpoint.seq });
    const after = (await api('GET', '/v1/audit/keys')).body.keys;
    expect(after.map((k) => k.keyId)).toEqual(expect.arrayContaining([...before.map((k) => k.keyId)]));
    expect(after.length).toBe(before.length + 1);
    writeFileSync(trustedKeysFile, JSON.stringify({ keys: after }));
    const { code, report } = await verifyBundle(await exportBundle('rotated'));
    expect({ code, problems: report.problems, firstBreak: report.firstBreak, keys: report.keyIds.length }).toEqual({ code: 0, problems: [], firstBreak: null, keys: 2 });
  });
});
