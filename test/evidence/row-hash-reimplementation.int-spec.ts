// docs/audit-row-hash.md reimplemented from the page alone — a second code path that shares
// nothing with libs/evidence or the SQL of the append function — and held to rows a running
// auditor recorded and exported.
import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import { newEvent, subjectFor } from '@autoheal/contracts';
import { createTestDatabase, startNatsServer, type NatsServerHandle, type TestDatabase } from '@autoheal/testing';
import { AuditLogService } from '../../apps/auditor/src/audit-log/audit-log.service';
import { OPS_KEY, startAuditor, type RunningAuditor } from '../../apps/auditor/src/test-support/auditor';

jest.setTimeout(120_000);

// ---- The specification, section by section, written from docs/audit-row-hash.md ----

/** Section 1: `<byte length>:<utf-8 bytes>,`, `~` for null. */
function netstring(field: string | null): Buffer {
  if (field === null) return Buffer.from('~', 'ascii');
  const bytes = new TextEncoder().encode(field);
  return Buffer.concat([Buffer.from(`${bytes.byteLength}:`, 'ascii'), Buffer.from(bytes), Buffer.from(',', 'ascii')]);
}

/** Section 2, strings: `"`, `\\`, the five short escapes, other controls as \u00xx, everything else as itself. */
function jsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (code === 0x08) out += '\\b';
    else if (code === 0x09) out += '\\t';
    else if (code === 0x0a) out += '\\n';
    else if (code === 0x0c) out += '\\f';
    else if (code === 0x0d) out += '\\r';
    else if (code < 0x20) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Section 2, keys: compared as sequences of UTF-16 code units. */
function compareUtf16(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Section 2: canonical JSON. Numbers as ECMAScript Number::toString writes the double (String(n)), -0 as 0. */
function canonical(value: unknown): string {
  if (value === null) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'number') return Object.is(value, -0) ? '0' : String(value);
  if (typeof value === 'string') return jsonString(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => compareUtf16(a, b));
  return `{${entries.map(([k, v]) => `${jsonString(k)}:${canonical(v)}`).join(',')}}`;
}

interface ExportedRow {
  tenantId: string;
  seq: number;
  prevHash: string;
  eventId: string;
  eventType: string;
  occurredAt: string;
  recordedAt: string;
  actor: string;
  action: string;
  outcome: string;
  resource: unknown;
  source: string;
  correlationId: string | null;
  causationId: string | null;
  traceId: string | null;
  payload: unknown;
  hash: string;
}

/** Section 3: the 17 fields in order, SHA-256, lowercase hex. */
function specRowHash(row: ExportedRow): string {
  const fields: (string | null)[] = [
    'autoheal.audit.v1',
    row.tenantId,
    String(row.seq),
    row.prevHash,
    row.eventId,
    row.eventType,
    row.occurredAt,
    row.recordedAt,
    row.actor,
    row.action,
    row.outcome,
    canonical(row.resource),
    row.source,
    row.correlationId,
    row.causationId,
    row.traceId,
    canonical(row.payload),
  ];
  return createHash('sha256').update(Buffer.concat(fields.map(netstring))).digest('hex');
}

interface Point {
  tenantId: string;
  /** A seal over a range (section 4). */
  fromSeq?: number;
  seq: number;
  headHash: string;
  signedAt: string;
  keyId: string;
  signature: string;
}

/**
 * Section 4: Ed25519 over the netstrings of the kind, tenant, seq, head hash, time and key id; a
 * seal over a range: `autoheal.seal.v2`, tenant, fromSeq, seq, head hash, time, key id.
 */
function specPointHolds(kind: 'seal' | 'checkpoint', point: Point, publicKeyDer: Buffer): boolean {
  const fields =
    point.fromSeq === undefined
      ? [`autoheal.${kind}.v1`, point.tenantId, String(point.seq), point.headHash, point.signedAt, point.keyId]
      : [`autoheal.${kind}.v2`, point.tenantId, String(point.fromSeq), String(point.seq), point.headHash, point.signedAt, point.keyId];
  const message = Buffer.concat(fields.map(netstring));
  return verifySignature(null, message, createPublicKey({ key: publicKeyDer, format: 'der', type: 'spki' }), Buffer.from(point.signature, 'base64'));
}

/** Section 4: `ed25519:` + base64url of the first 16 bytes of SHA-256 over the DER key. */
function specKeyId(publicKeyDer: Buffer): string {
  return `ed25519:${createHash('sha256').update(publicKeyDer).digest().subarray(0, 16).toString('base64url')}`;
}

// ---- Held to what a running auditor recorded ----

const AWKWARD_EVIDENCE: Record<string, unknown>[] = [
  { missed: 3 },
  { 'é': 'ünïcödé ✓ 🚑', a: 'quote " and backslash \\ and slash /', z: 'tab\tnewline\ncontrol\u0001\u001f' },
  { numbers: [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789012345680000, 5e-324, 1.7976931348623157e308, Number('9007199254740993'), 0.000001, 1.5] },
  { nested: { b: [true, false, null, { y: [], x: {} }], a: { '\uE000': 1, '\uFFFF': 2, '𝒜': 3, Z: 4, a: 5 } } },
  { empty: '', deep: [[[[['bottom']]]]] },
];

describe('the row hash as docs/audit-row-hash.md specifies it, on rows a running auditor exported', () => {
  let nats: NatsServerHandle;
  let db: TestDatabase;
  let auditor: RunningAuditor;

  beforeAll(async () => {
    [nats, db] = await Promise.all([startNatsServer(), createTestDatabase()]);
    auditor = await startAuditor({ databaseUrl: db.roleUrl('auditor'), natsUrl: nats.url, extraEnv: { AUDITOR_CHECKPOINT_EVERY_ROWS: '2' } });
  });

  afterAll(async () => {
    await auditor?.stop();
    await db?.drop();
    await nats?.stop();
  });

  it('recomputes every exported row’s hash and link, and every seal and checkpoint signature, with the independent implementation', async () => {
    const service = auditor.app.get(AuditLogService);
    for (const [i, evidence] of AWKWARD_EVIDENCE.entries()) {
      const now = new Date(Date.UTC(2026, 0, 31, 9, 5, 3, 120 + i)).toISOString();
      const event = newEvent('incident.opened', {
        tenantId: 'spec',
        producer: 'detector',
        correlationId: `00000000-0000-4000-8000-00000000000${i}`,
        data: { incidentId: `00000000-0000-4000-8000-00000000000${i}`, service: 'api', instance: `api-${i}`, kind: 'heartbeat_missed', severity: 'major', signalAt: now, detectedAt: now, detectionLatencyMs: i, evidence },
      });
      await service.recordEvent(event, { subject: subjectFor(event) });
    }
    const checkpoint = await fetch(`${auditor.baseUrl}/v1/tenants/spec/audit/checkpoints`, { method: 'POST', headers: { authorization: `Bearer ${OPS_KEY}` } });
    expect(checkpoint.status).toBe(201);
    const response = await fetch(`${auditor.baseUrl}/v1/tenants/spec/audit/export`, { headers: { authorization: `Bearer ${OPS_KEY}` } });
    expect(response.status).toBe(200);
    const { files } = (await response.json()) as { files: Record<string, string> };
    const lines = (name: string) => files[name].split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);

    const rows = lines('rows.jsonl') as ExportedRow[];
    expect(rows).toHaveLength(AWKWARD_EVIDENCE.length);
    let prev = '0'.repeat(64);
    for (const [i, row] of rows.entries()) {
      expect({ seq: row.seq, prevHash: row.prevHash, hash: specRowHash(row) }).toEqual({ seq: i + 1, prevHash: prev, hash: row.hash });
      prev = row.hash;
    }

    const keys = (JSON.parse(files['keys.json']) as { keys: { keyId: string; publicKey: string }[] }).keys;
    const derOf = new Map(keys.map((k) => [k.keyId, Buffer.from(k.publicKey, 'base64')]));
    for (const [keyId, der] of derOf) expect(specKeyId(der)).toBe(keyId);
    // Section 4: the seals' ranges cover the rows, one after the other.
    const seals = lines('seals.jsonl') as Point[];
    let covered = 0;
    for (const seal of seals) {
      expect(seal.fromSeq ?? seal.seq).toBe(covered + 1);
      covered = seal.seq;
    }
    expect(covered).toBe(rows.length);
    for (const seal of seals) {
      expect(seal.headHash).toBe(rows[seal.seq - 1].hash);
      expect(specPointHolds('seal', seal, derOf.get(seal.keyId)!)).toBe(true);
      // A seal is not a checkpoint: the kind is signed.
      expect(specPointHolds('checkpoint', seal, derOf.get(seal.keyId)!)).toBe(false);
    }
    const checkpoints = lines('checkpoints.jsonl') as Point[];
    expect(checkpoints.map((c) => c.seq)).toContain(rows.length);
    for (const c of checkpoints) {
      expect(c.headHash).toBe(rows[c.seq - 1].hash);
      expect(specPointHolds('checkpoint', c, derOf.get(c.keyId)!)).toBe(true);
    }

    // Section 5: the manifest's hashes and signature.
    const manifest = JSON.parse(files['manifest.json']) as { files: Record<string, { sha256: string; bytes: number }>; signature: string; keyId: string };
    for (const [name, listed] of Object.entries(manifest.files)) {
      expect({ name, sha256: createHash('sha256').update(files[name]).digest('hex'), bytes: Buffer.byteLength(files[name]) }).toEqual({ name, ...listed });
    }
    const { signature, ...unsigned } = manifest;
    const message = Buffer.concat([netstring('autoheal.audit-bundle.v1'), netstring(canonical(unsigned))]);
    expect(verifySignature(null, message, createPublicKey({ key: derOf.get(manifest.keyId)!, format: 'der', type: 'spki' }), Buffer.from(signature, 'base64'))).toBe(true);
  });
});
