import { createHash } from 'node:crypto';
import { generateSigningKey } from '@autoheal/security';
import { buildBundle, BUNDLE_FILES, type BundleInput } from './bundle';
import { GENESIS_HASH, chainNext, EMPTY_HEAD, type ChainedRow } from './row-hash';
import { signPoint } from './signed-point';
import { chainStartAfterTombstones, checkTombstone, signTombstone, verifyArchive, type Tombstone } from './tombstone';

const auditor = generateSigningKey().key;
const keys = (keyId: string) => (keyId === auditor.keyId ? auditor.publicKey : null);
const at = '2026-01-01T00:00:00.000Z';

function chain(n: number): ChainedRow[] {
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
  return rows;
}

const rows = chain(8);

function archive(from: number, to: number): Map<string, Buffer> {
  const slice = rows.slice(from - 1, to);
  const input: BundleInput = {
    tenantId: 'acme', exportedAt: at, from: null, to: null, fromSeq: from, headSeq: 8, rows: slice,
    seals: slice.map((r) => signPoint('seal', auditor, { tenantId: 'acme', seq: r.seq, headHash: r.hash, signedAt: at })),
    checkpoints: [], keys: [{ keyId: auditor.keyId, publicKey: auditor.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'), firstUsedAt: at }],
  };
  return new Map([...buildBundle(input, auditor)].map(([k, v]) => [k, Buffer.from(v)]));
}

function tombstoneOf(files: Map<string, Buffer>, from: number, to: number): Tombstone {
  return signTombstone(auditor, {
    tenantId: 'acme', fromSeq: from, toSeq: to, hashBefore: rows[from - 2]?.hash ?? GENESIS_HASH, hashAfter: rows[to - 1].hash,
    manifestSha256: createHash('sha256').update(files.get(BUNDLE_FILES.manifest)!).digest('hex'), partition: 'audit_log_p2026_01', signedAt: at,
  });
}

describe('tombstones', () => {
  const first = archive(1, 4);
  const second = archive(5, 6);
  const t1 = tombstoneOf(first, 1, 4);
  const t2 = tombstoneOf(second, 5, 6);

  it('signs and checks; a changed field or an unknown key does not hold', () => {
    expect(checkTombstone(t1, keys)).toBeNull();
    expect(checkTombstone({ ...t1, toSeq: 5 }, keys)).toBe('bad_signature');
    expect(checkTombstone(t1, () => null)).toBe('unknown_key');
  });

  it('the online chain starts after the last of contiguous tombstones', () => {
    expect(chainStartAfterTombstones([], keys)).toMatchObject({ start: { headSeq: 0, headHash: GENESIS_HASH }, problem: null });
    expect(chainStartAfterTombstones([t2, t1], keys)).toMatchObject({ start: { headSeq: 6, headHash: rows[5].hash }, problem: null });
  });

  it.each<[string, Tombstone[], number]>([
    ['a forged signature', [{ ...t1, hashAfter: 'f'.repeat(64) }, t2], 1],
    ['a hole before the first', [t2], 1],
    ['a hole between two', [t1, signTombstone(auditor, { ...t2, fromSeq: 6 })], 5],
    ['a second that does not start from the first’s end', [t1, signTombstone(auditor, { ...t2, hashBefore: 'a'.repeat(64) })], 5],
  ])('%s is tombstone_invalid', (_name, tombstones, seq) => {
    expect(chainStartAfterTombstones(tombstones, keys).problem).toMatchObject({ seq, reason: 'tombstone_invalid' });
  });

  it('holds an archive to its tombstone', () => {
    expect(verifyArchive(first, t1, keys)).toMatchObject({ ok: true, tombstoneProblems: [] });
    expect(verifyArchive(second, t1, keys).tombstoneProblems.map((p) => p.code)).toEqual(['manifest_not_tombstoned', 'range_mismatch', 'ends_mismatch']);
    // Rebuilt and re-signed by the same key (the auditor's key compromised aside): another manifest than the one tombstoned.
    const rebuilt = archive(1, 4);
    rebuilt.set(BUNDLE_FILES.manifest, Buffer.from(rebuilt.get(BUNDLE_FILES.manifest)!.toString().replace(at, '2026-01-02T00:00:00.000Z')));
    expect(verifyArchive(rebuilt, t1, keys).tombstoneProblems.map((p) => p.code)).toContain('manifest_not_tombstoned');
  });
});
