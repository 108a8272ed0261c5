import { generateSigningKey, publicKeyToBase64 } from '@autoheal/security';
import { buildBundle, verifyBundle, type BundleInput } from './bundle';
import { chainNext, EMPTY_HEAD, type ChainedRow } from './row-hash';
import { signPoint } from './signed-point';

const auditor = generateSigningKey().key;
const at = '2026-01-01T00:00:00.000Z';

function input(n = 5): BundleInput {
  const rows: ChainedRow[] = [];
  let head = EMPTY_HEAD;
  for (let i = 1; i <= n; i++) {
    const row = chainNext(head, {
      tenantId: 'acme', eventId: `e-${i}`, eventType: 'incident.opened', occurredAt: at, recordedAt: at, actor: 'detector', action: 'incident.open',
      outcome: 'info', resource: {}, source: 's', correlationId: null, causationId: null, traceId: null, payload: { n: i },
    });
    rows.push(row);
    head = row;
  }
  return {
    tenantId: 'acme', exportedAt: at, from: null, to: null, fromSeq: 1, headSeq: n, rows,
    seals: rows.map((r) => signPoint('seal', auditor, { tenantId: 'acme', seq: r.seq, headHash: r.hash, signedAt: at })),
    checkpoints: [signPoint('checkpoint', auditor, { tenantId: 'acme', seq: n, headHash: rows[n - 1].hash, signedAt: at })],
    keys: [{ keyId: auditor.keyId, publicKey: publicKeyToBase64(auditor.publicKey), firstUsedAt: at }],
  };
}

const asBytes = (files: Map<string, string>) => new Map([...files].map(([k, v]) => [k, Buffer.from(v)]));

describe('bundles', () => {
  it('verifies a bundle as built, against pinned keys too', () => {
    const files = asBytes(buildBundle(input(), auditor));
    expect(verifyBundle(files)).toMatchObject({ ok: true, checkedRows: 5, checkpoints: 1, firstBreak: null, problems: [] });
    expect(verifyBundle(files, { trustedKeys: new Map([[auditor.keyId, auditor.publicKey]]) }).ok).toBe(true);
  });

  it('refuses a bundle signed by a key the verifier does not trust', () => {
    const other = generateSigningKey().key;
    const report = verifyBundle(asBytes(buildBundle(input(), auditor)), { trustedKeys: new Map([[other.keyId, other.publicKey]]) });
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.code)).toEqual(['untrusted_key', 'bad_manifest_signature']);
  });

  it.each([
    ['a file changed', (f: Map<string, Buffer>) => f.set('seals.jsonl', Buffer.from('')), 'file_hash_mismatch'],
    ['a file missing', (f: Map<string, Buffer>) => f.delete('checkpoints.jsonl'), 'missing_file'],
    ['a file added', (f: Map<string, Buffer>) => f.set('extra.jsonl', Buffer.from('{}\n')), 'unlisted_file'],
    ['the manifest edited', (f: Map<string, Buffer>) => f.set('manifest.json', Buffer.from(f.get('manifest.json')!.toString().replace('"headSeq": 5', '"headSeq": 4'))), 'bad_manifest_signature'],
  ] as const)('names %s', (_name, tamper, code) => {
    const files = asBytes(buildBundle(input(), auditor));
    tamper(files);
    const report = verifyBundle(files);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.code)).toContain(code);
  });

  it('names rows missing past the range when the bundle claims to reach the end', () => {
    const full = input(5);
    const truncated: BundleInput = { ...full, rows: full.rows.slice(0, 3), seals: full.seals.slice(0, 3), headSeq: 3 };
    expect(verifyBundle(asBytes(buildBundle(truncated, auditor))).firstBreak).toMatchObject({ seq: 4, lastSeq: 5, reason: 'rows_missing' });
    // A range that ends before the head (exported so on purpose) is not held to later checkpoints.
    expect(verifyBundle(asBytes(buildBundle({ ...truncated, headSeq: 5 }, auditor))).ok).toBe(true);
  });

  it('says what is wrong with a directory that is not a bundle', () => {
    expect(verifyBundle(new Map())).toMatchObject({ ok: false, problems: [{ code: 'missing_file', file: 'manifest.json' }] });
    expect(verifyBundle(new Map([['manifest.json', Buffer.from('{')]]))).toMatchObject({ ok: false, problems: [{ code: 'invalid_manifest' }] });
  });
});
