import { createHash } from 'node:crypto';
import {
  canonicalJson,
  chainNext,
  EMPTY_HEAD,
  encodeFields,
  GENESIS_HASH,
  hashRow,
  needsFullVerification,
  resumeAfter,
  START_OF_CHAIN,
  verifyChain,
  type ChainBreakReason,
  type ChainedFields,
  type ChainedRow,
} from './hash-chain';

function fields(i: number, tenantId = 'acme'): Omit<ChainedFields, 'seq' | 'prevHash'> {
  return {
    tenantId,
    eventId: `0190a000-0000-7000-8000-${String(i).padStart(12, '0')}`,
    eventType: i % 2 ? 'incident.opened' : 'remediation.succeeded',
    occurredAt: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(),
    recordedAt: new Date(Date.UTC(2025, 0, 1, 0, 0, i, 5)).toISOString(),
    actor: 'detector',
    action: 'incident.open',
    outcome: 'info',
    resource: { service: 'billing', instance: `i-${i}` },
    source: 'incident.acme.opened',
    correlationId: i > 1 ? 'corr-1' : null,
    causationId: null,
    traceId: null,
    payload: { n: i, nested: { b: [1, 'two', null], a: true } },
  };
}

function chain(n: number, tenantId = 'acme'): ChainedRow[] {
  const rows: ChainedRow[] = [];
  let head = EMPTY_HEAD;
  for (let i = 1; i <= n; i++) {
    const row = chainNext(head, fields(i, tenantId));
    rows.push(row);
    head = { seq: row.seq, hash: row.hash };
  }
  return rows;
}

type Tamper = (rows: ChainedRow[]) => ChainedRow[];
const at = (seq: number, change: (r: ChainedRow) => ChainedRow): Tamper => (rows) => rows.map((r) => (r.seq === seq ? change(r) : r));

describe('verifyChain', () => {
  it('accepts an intact chain and reports its head', () => {
    const rows = chain(5);
    expect(rows[0].prevHash).toBe(GENESIS_HASH);
    expect(verifyChain(rows)).toEqual({ ok: true, checkedRows: 5, headSeq: 5, headHash: rows[4].hash, firstBreak: null, checkpointedSeq: 0, sealedTo: 5 });
  });

  it('accepts the empty chain', () => {
    expect(verifyChain([])).toEqual({ ...START_OF_CHAIN, sealedTo: 0 });
  });

  const cases: [string, Tamper, number, ChainBreakReason][] = [
    ['changed payload', at(3, (r) => ({ ...r, payload: { ...(r.payload as object), n: 99 } })), 3, 'hash_mismatch'],
    ['changed nested payload value', at(2, (r) => ({ ...r, payload: { n: 2, nested: { b: [1, 'two', null], a: false } } })), 2, 'hash_mismatch'],
    ['changed actor', at(4, (r) => ({ ...r, actor: 'someone-else' })), 4, 'hash_mismatch'],
    ['changed outcome', at(1, (r) => ({ ...r, outcome: 'success' })), 1, 'hash_mismatch'],
    ['changed occurred_at', at(5, (r) => ({ ...r, occurredAt: '2025-01-01T00:00:05.001Z' })), 5, 'hash_mismatch'],
    ['changed correlation id to null', at(3, (r) => ({ ...r, correlationId: null })), 3, 'hash_mismatch'],
    ['row moved to another tenant', at(2, (r) => ({ ...r, tenantId: 'other' })), 2, 'hash_mismatch'],
    ['replaced hash', at(2, (r) => ({ ...r, hash: 'f'.repeat(64) })), 2, 'hash_mismatch'],
    ['broken prev_hash', at(3, (r) => ({ ...r, prevHash: 'a'.repeat(64) })), 3, 'prev_hash_mismatch'],
    ['broken genesis prev_hash', at(1, (r) => ({ ...r, prevHash: 'a'.repeat(64) })), 1, 'prev_hash_mismatch'],
    ['changed seq', (rows) => at(3, (r) => ({ ...r, seq: 9 }))(rows).sort((a, b) => a.seq - b.seq), 3, 'seq_gap'],
    ['gap (row deleted)', (rows) => rows.filter((r) => r.seq !== 3), 3, 'seq_gap'],
    ['first row deleted', (rows) => rows.slice(1), 1, 'seq_gap'],
    ['last row changed', (rows) => [...rows.slice(0, 4), { ...rows[4], payload: 'forged' }], 5, 'hash_mismatch'],
    [
      'row rewritten with a recomputed hash',
      (rows) => {
        const forged = { ...rows[1], actor: 'forger' };
        return rows.map((r) => (r.seq === 2 ? { ...forged, hash: hashRow(forged) } : r));
      },
      3,
      'prev_hash_mismatch',
    ],
  ];

  it.each(cases)('%s → break at the right seq', (_name, tamper, seq, reason) => {
    const result = verifyChain(tamper(chain(5)));
    expect(result.ok).toBe(false);
    expect(result.firstBreak).toMatchObject({ seq, reason });
  });

  it('reports the hashes it compared', () => {
    const rows = chain(3);
    const tampered = at(2, (r) => ({ ...r, payload: 'x' }))(rows);
    expect(verifyChain(tampered).firstBreak).toMatchObject({
      seq: 2,
      reason: 'hash_mismatch',
      expectedHash: hashRow(tampered[1]),
      actualHash: rows[1].hash,
    });
    const relinked = at(2, (r) => ({ ...r, prevHash: 'b'.repeat(64) }))(rows);
    expect(verifyChain(relinked).firstBreak).toMatchObject({ expectedHash: rows[0].hash, actualHash: 'b'.repeat(64) });
  });

  it('reports only the first break and still reads to the head', () => {
    const rows = chain(6);
    const tampered = at(5, (r) => ({ ...r, actor: 'x' }))(at(2, (r) => ({ ...r, actor: 'y' }))(rows));
    const result = verifyChain(tampered);
    expect(result.firstBreak?.seq).toBe(2);
    expect(result).toMatchObject({ checkedRows: 6, headSeq: 6, headHash: rows[5].hash });
  });

  it('gives the same answer in batches as in one go', () => {
    const rows = at(7, (r) => ({ ...r, action: 'x' }))(chain(10));
    const whole = verifyChain(rows);
    let state = START_OF_CHAIN;
    for (let i = 0; i < rows.length; i += 3) state = verifyChain(rows.slice(i, i + 3), state);
    expect(state).toEqual(whole);
    expect(state.firstBreak?.seq).toBe(7);
  });

  it('keeps the chains of two tenants independent', () => {
    const a = chain(3, 'acme');
    const b = chain(3, 'globex');
    expect(verifyChain(a).ok).toBe(true);
    expect(verifyChain(b).ok).toBe(true);
    expect(a[0].hash).not.toBe(b[0].hash);
    // A row of one tenant's chain does not fit the other's.
    expect(verifyChain([a[0], b[1], a[2]]).firstBreak).toMatchObject({ seq: 2, reason: 'prev_hash_mismatch' });
  });
});

describe('hashing', () => {
  it('does not depend on object key order (jsonb reorders keys)', () => {
    const a = chainNext(EMPTY_HEAD, { ...fields(1), payload: { b: 1, a: { d: 2, c: 3 } } });
    const b = chainNext(EMPTY_HEAD, { ...fields(1), payload: { a: { c: 3, d: 2 }, b: 1 } });
    expect(a.hash).toBe(b.hash);
  });

  it('length-prefixes fields so that moving bytes between them changes the hash', () => {
    const base = { ...fields(1), seq: 1, prevHash: GENESIS_HASH };
    const a = hashRow({ ...base, actor: 'ab', action: 'c' });
    const b = hashRow({ ...base, actor: 'a', action: 'bc' });
    expect(a).not.toBe(b);
  });

  it('tells null from the string "~" and from the empty string', () => {
    const base = { ...fields(1), seq: 1, prevHash: GENESIS_HASH };
    const hashes = new Set([null, '~', ''].map((correlationId) => hashRow({ ...base, correlationId })));
    expect(hashes.size).toBe(3);
  });

  it('encodes fields as netstrings in a fixed order', () => {
    const encoded = encodeFields({ ...fields(1), seq: 12, prevHash: GENESIS_HASH, tenantId: 'ténant' }).toString('utf8');
    expect(encoded.startsWith('17:autoheal.audit.v1,7:ténant,2:12,64:0000')).toBe(true);
  });

  it.each([
    ['plain ASCII', 'detector'],
    ['multi-byte characters', 'ténant ✓ 𝄞'],
    ['a lone high surrogate at the end', 'end\ud800'],
    ['a lone low surrogate at the start', '\udc00start'],
    ['the separators themselves', '12:,~'],
  ])('hashes exactly the netstring bytes it encodes (%s)', (_case, text) => {
    const row = { ...fields(1), seq: 7, prevHash: GENESIS_HASH, actor: text, correlationId: null, payload: { note: text } };
    expect(hashRow(row)).toBe(createHash('sha256').update(encodeFields(row)).digest('hex'));
  });

  it.each([
    [{ b: 2, a: 1 }, '{"a":1,"b":2}'],
    [[3, { z: null, y: 'é' }], '[3,{"y":"é","z":null}]'],
    [{ a: undefined, b: [undefined] }, '{"b":[null]}'],
    ['quote"d', '"quote\\"d"'],
  ])('canonicalJson(%j) = %s', (value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it('refuses values JSON cannot carry', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/non-finite/);
  });
});

describe('resumeAfter (incremental verification)', () => {
  const rows = chain(6);
  const point = { seq: 3, hash: rows[2].hash, verifiedAt: '2025-01-01T00:00:10.000Z', fullVerifiedAt: '2025-01-01T00:00:10.000Z' };

  it('continues after an intact verified point, and finds a break after it', () => {
    const from = resumeAfter(point, rows[2]);
    expect(from).toEqual({ ok: true, checkedRows: 0, headSeq: 3, headHash: rows[2].hash, firstBreak: null, checkpointedSeq: 3 });
    expect(verifyChain(rows.slice(3), from)).toEqual({ ok: true, checkedRows: 3, headSeq: 6, headHash: rows[5].hash, firstBreak: null, checkpointedSeq: 3, sealedTo: 6 });
    const tampered = at(5, (r) => ({ ...r, actor: 'mallory' }))(rows).slice(3);
    expect(verifyChain(tampered, from).firstBreak).toMatchObject({ seq: 5, reason: 'hash_mismatch' });
  });

  it.each([
    ['the row at the point rewritten (hash recomputed)', { ...chainNext({ seq: 2, hash: rows[1].hash }, { ...fields(3), actor: 'mallory' }) }, 'hash_mismatch'],
    ['the row at the point edited (hash kept)', { ...rows[2], actor: 'mallory' }, 'hash_mismatch'],
    ['the row at the point removed', null, 'seq_gap'],
  ] as const)('reports %s at the point', (_name, stored, reason) => {
    const from = resumeAfter(point, stored);
    expect(from).toMatchObject({ ok: false, headSeq: 3, headHash: point.hash, firstBreak: { seq: 3, reason } });
  });

  it('holds the next row to the verified hash, not to a rewritten one', () => {
    // Rows 3..6 rewritten consistently from seq 3 on: the row at the point no longer matches.
    let head = { seq: 2, hash: rows[1].hash };
    const rewritten: ChainedRow[] = [];
    for (let i = 3; i <= 6; i++) {
      const row = chainNext(head, { ...fields(i), actor: 'mallory' });
      rewritten.push(row);
      head = { seq: row.seq, hash: row.hash };
    }
    const from = resumeAfter(point, rewritten[0]);
    expect(verifyChain(rewritten.slice(1), from).firstBreak).toMatchObject({ seq: 3, reason: 'hash_mismatch' });
  });
});

describe('needsFullVerification', () => {
  const day = 86_400_000;
  const now = Date.parse('2025-06-01T12:00:00.000Z');
  const point = (fullVerifiedAt: string) => ({ seq: 9, hash: GENESIS_HASH, verifiedAt: fullVerifiedAt, fullVerifiedAt });

  it.each([
    ['no point yet', null, true],
    ['verified whole an hour ago', point('2025-06-01T11:00:00.000Z'), false],
    ['verified whole exactly a day ago', point('2025-05-31T12:00:00.000Z'), false],
    ['verified whole more than a day ago', point('2025-05-31T11:59:59.999Z'), true],
    ['a point stamped in the future (written by hand)', point('2025-06-02T00:00:00.000Z'), true],
  ] as const)('%s → %s', (_name, p, expected) => {
    expect(needsFullVerification(p, now, day)).toBe(expected);
  });
});
