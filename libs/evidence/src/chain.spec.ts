import { generateSigningKey } from '@autoheal/security';
import { closeChain, START_OF_CHAIN, verifyChain, type ChainBreakReason, type Evidence, type EvidenceRow } from './chain';
import { chainNext, EMPTY_HEAD, hashRow, type ChainedRow } from './row-hash';
import { signPoint, signSeal, type SignedPoint } from './signed-point';

const auditor = generateSigningKey().key;
const mallory = generateSigningKey().key;
const at = '2026-01-01T00:00:00.000Z';

function rows(n: number): EvidenceRow[] {
  const out: EvidenceRow[] = [];
  let head = EMPTY_HEAD;
  for (let i = 1; i <= n; i++) {
    const row = chainNext(head, {
      tenantId: 'acme',
      eventId: `e-${i}`,
      eventType: 'incident.opened',
      occurredAt: at,
      recordedAt: at,
      actor: 'detector',
      action: 'incident.open',
      outcome: 'info',
      resource: { instance: `i-${i}` },
      source: 'incident.acme.opened',
      correlationId: null,
      causationId: null,
      traceId: null,
      payload: { n: i },
    });
    out.push({ ...row, seal: signPoint('seal', auditor, { tenantId: 'acme', seq: row.seq, headHash: row.hash, signedAt: at }) });
    head = row;
  }
  return out;
}

const checkpoint = (row: ChainedRow, key = auditor): SignedPoint => signPoint('checkpoint', key, { tenantId: 'acme', seq: row.seq, headHash: row.hash, signedAt: at });
const keys = (keyId: string) => (keyId === auditor.keyId ? auditor.publicKey : null);

/** Recomputes prev_hash and hash from `from` (1-based seq) on: what an attacker covering their tracks does. */
function rehash(chain: EvidenceRow[], from: number): EvidenceRow[] {
  let prev = chain[from - 2]?.hash ?? '0'.repeat(64);
  return chain.map((row) => {
    if (row.seq < from) return row;
    const fields = { ...row, prevHash: prev };
    const hash = hashRow(fields);
    prev = hash;
    return { ...fields, hash };
  });
}

function evidenceOf(chain: EvidenceRow[], options: { sealed?: boolean } = {}): Evidence {
  return {
    checkpoints: new Map([4, 8].map((seq) => [seq, checkpoint(chain[seq - 1])])),
    sealedAfter: options.sealed === false ? Number.POSITIVE_INFINITY : 0,
    keys,
  };
}

describe('verifyChain against seals and checkpoints', () => {
  const intact = rows(8);

  it('accepts an intact, sealed, checkpointed chain and reports the last checkpoint it matched', () => {
    expect(verifyChain(intact, START_OF_CHAIN, evidenceOf(intact))).toMatchObject({ ok: true, checkedRows: 8, firstBreak: null, checkpointedSeq: 8 });
  });

  type Case = [name: string, tamper: (c: EvidenceRow[]) => EvidenceRow[], seq: number, reason: ChainBreakReason, lastSeq: number | undefined, sealed: boolean | undefined];
  const cases: Case[] = [
    ['an edit', (c) => c.map((r) => (r.seq === 3 ? { ...r, actor: 'mallory' } : r)), 3, 'hash_mismatch', undefined, undefined],
    ['an edit, re-hashed', (c) => rehash(c.map((r) => (r.seq === 3 ? { ...r, actor: 'mallory' } : r)), 3), 3, 'seal_mismatch', undefined, undefined],
    ['a row without its seal', (c) => c.map((r) => (r.seq === 6 ? { ...r, seal: null } : r)), 6, 'unsealed_row', undefined, undefined],
    ['a seal by another key', (c) => c.map((r) => (r.seq === 6 ? { ...r, seal: signPoint('seal', mallory, { tenantId: 'acme', seq: 6, headHash: r.hash, signedAt: at }) } : r)), 6, 'seal_mismatch', undefined, undefined],
    ['a seal of another row', (c) => c.map((r) => (r.seq === 6 ? { ...r, seal: c[4].seal } : r)), 6, 'seal_mismatch', undefined, undefined],
    ['an edit, re-hashed, where nothing is sealed: the checkpoints name the range', (c) => rehash(c.map((r) => (r.seq === 6 ? { ...r, actor: 'mallory' } : r)), 6), 5, 'checkpoint_mismatch', 8, false],
  ];

  it.each(cases)('%s', (_name, tamper, seq, reason, lastSeq, sealed) => {
    const tampered = tamper(rows(8).map((r, i) => ({ ...r, seal: intact[i].seal })));
    const evidence = { ...evidenceOf(intact, { sealed }), ...(sealed === false ? { sealedAfter: Number.POSITIVE_INFINITY } : {}) };
    const found = verifyChain(tampered, START_OF_CHAIN, evidence).firstBreak;
    expect(found).toMatchObject({ seq, reason, ...(lastSeq !== undefined ? { lastSeq } : {}) });
  });

  it('finds a checkpoint whose signature does not hold', () => {
    const forged = { ...checkpoint(intact[3]), signature: checkpoint(intact[7]).signature };
    const evidence = { ...evidenceOf(intact), checkpoints: new Map([[4, forged]]) };
    expect(verifyChain(intact, START_OF_CHAIN, evidence).firstBreak).toMatchObject({ seq: 4, reason: 'checkpoint_invalid' });
  });

  it('names the rows a later checkpoint vouches for as missing when the tail is gone', () => {
    const kept = intact.slice(0, 5);
    const state = verifyChain(kept, START_OF_CHAIN, evidenceOf(intact));
    expect(closeChain(state, 5, checkpoint(intact[7]), keys, 0).firstBreak).toMatchObject({ seq: 6, lastSeq: 8, reason: 'rows_missing' });
    // A checkpoint nobody trusts names nothing missing: it is itself the problem.
    expect(closeChain(state, 5, checkpoint(intact[7], mallory), keys, 0).firstBreak).toMatchObject({ seq: 8, reason: 'checkpoint_invalid' });
    // Fewer rows than the head the verification started from: missing too.
    expect(closeChain(state, 7, null, keys, 0).firstBreak).toMatchObject({ seq: 6, lastSeq: 7, reason: 'rows_missing' });
  });

  it('requires no seal up to where sealing began (rows from before it are vouched for by the chain)', () => {
    const unsealed = intact.map((r) => (r.seq <= 3 ? { ...r, seal: null } : r));
    expect(verifyChain(unsealed, START_OF_CHAIN, { ...evidenceOf(intact), sealedAfter: 3 }).ok).toBe(true);
    expect(verifyChain(unsealed, START_OF_CHAIN, { ...evidenceOf(intact), sealedAfter: 2 }).firstBreak).toMatchObject({ seq: 3, reason: 'unsealed_row' });
  });
});

describe('verifyChain against seals over ranges (one per append transaction)', () => {
  /** Seals rows as the auditor does: one seal per range, stored at its last row; the rows between keep none. */
  function sealRanges(chain: EvidenceRow[], ranges: [number, number][], key = auditor): EvidenceRow[] {
    const byEnd = new Map(ranges.map(([from, to]) => [to, signSeal(key, { tenantId: 'acme', fromSeq: from, seq: to, headHash: chain[to - 1].hash, signedAt: at })]));
    return chain.map((row) => ({ ...row, seal: byEnd.get(row.seq) ?? null }));
  }
  const evidence: Evidence = { checkpoints: new Map(), sealedAfter: 0, keys };
  const verified = (chain: EvidenceRow[], untilSeq = chain.length) => closeChain(verifyChain(chain, START_OF_CHAIN, evidence), untilSeq, null, keys, 0);

  it('accepts rows covered by consecutive ranges, single rows and v1 seals among them', () => {
    const chain = rows(8);
    const sealed = sealRanges(chain, [[1, 3], [4, 4], [5, 7]]).map((r) => (r.seq === 8 ? { ...r, seal: chain[7].seal } : r));
    expect(verified(sealed)).toMatchObject({ ok: true, checkedRows: 8, sealedTo: 8 });
  });

  it("names a row slipped in between two of the auditor's transactions, the chain recomputed after it", () => {
    const chain = rows(8);
    // Row 4 is the forger's; the auditor appended 1–3, then 5–6 and 7–8 onto it.
    expect(verified(sealRanges(chain, [[1, 3], [5, 6], [7, 8]])).firstBreak).toMatchObject({ seq: 4, lastSeq: null, reason: 'unsealed_row' });
  });

  it('names rows after the last range as unsealed (a well-chained tail someone else wrote)', () => {
    const chain = sealRanges(rows(8), [[1, 3], [4, 6]]);
    expect(verifyChain(chain, START_OF_CHAIN, evidence).ok).toBe(true);
    expect(verified(chain).firstBreak).toMatchObject({ seq: 7, lastSeq: 8, reason: 'unsealed_row' });
  });

  it('names the range of a seal whose rows were rewritten and re-hashed', () => {
    const sealed = sealRanges(rows(8), [[1, 3], [4, 6], [7, 8]]);
    const tampered = rehash(sealed.map((r) => (r.seq === 5 ? { ...r, actor: 'mallory' } : r)), 5);
    expect(verified(tampered).firstBreak).toMatchObject({ seq: 4, lastSeq: 6, reason: 'seal_mismatch' });
  });

  it('refuses a seal whose range was widened after signing, or signed by another key', () => {
    const sealed = sealRanges(rows(8), [[1, 3], [5, 8]]);
    const widened = sealed.map((r) => (r.seq === 8 && r.seal ? { ...r, seal: { ...r.seal, fromSeq: 4 } } : r));
    expect(verified(widened).firstBreak).toMatchObject({ seq: 4, lastSeq: 8, reason: 'seal_mismatch' });
    const foreign = sealRanges(rows(8), [[1, 3], [4, 8]], mallory);
    expect(verified(foreign).firstBreak).toMatchObject({ seq: 1, lastSeq: 3, reason: 'seal_mismatch' });
  });
});
