/**
 * The chain is written by SQL (`auditor.append_audit_entries`, over the canonical JSON the service gives it) and verified by TypeScript
 * (`hash-chain.ts`): the two must compute the same hash for every row, or `verify` reports a break
 * that never happened. Checked over generated rows — any unicode, empty and large payloads, nulls,
 * numbers of every magnitude — first on the hash function alone, then through the append function
 * as the auditor's own role and back through `verify`'s code.
 */
import fc from 'fast-check';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '@autoheal/testing';
import { auditorDataSource } from '../data-source';
import type { AuditEntry } from './audit-entry';
import { auditLogRepository as repo } from './audit-log.repository';
import { generateSigningKey } from '@autoheal/security';
import { RowSealer } from '../evidence/row-sealer';
import { closeChain, hashRow, START_OF_CHAIN, verifyChain, type ChainedFields, type JsonValue, type Outcome } from './hash-chain';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text Postgres can hold: no NUL, no lone surrogate. */
const pgText = (maxLength = 24): fc.Arbitrary<string> =>
  fc
    .oneof(fc.string({ unit: 'binary', maxLength }), fc.string({ unit: 'grapheme', maxLength }), fc.string({ unit: 'grapheme-ascii', maxLength }))
    .filter((s) => !s.includes('\u0000') && !LONE_SURROGATE.test(s));

const number = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom(0, -0, 1e21, 1e-7, 123e-20, 5e-324, Number.MAX_VALUE, Number.MAX_SAFE_INTEGER, 0.1, 100, 1.5, -2.5e-8, 1e300),
);

const json: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    number,
    pgText(),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(pgText(8), tie('value'), { maxKeys: 6 }),
  ),
})).value;

const timestamp = fc.date({ min: new Date('0001-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }).map((d) => d.toISOString());
const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const outcome = fc.constantFrom<Outcome>('success', 'failure', 'refused', 'info');

const fields: fc.Arbitrary<ChainedFields> = fc.record({
  tenantId: pgText(),
  seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  prevHash: hex64,
  eventId: pgText(),
  eventType: pgText(),
  occurredAt: timestamp,
  recordedAt: timestamp,
  actor: pgText(),
  action: pgText(),
  outcome,
  resource: fc.dictionary(pgText(8), json, { maxKeys: 4 }),
  source: pgText(),
  correlationId: fc.option(pgText(), { nil: null }),
  causationId: fc.option(pgText(), { nil: null }),
  traceId: fc.option(pgText(), { nil: null }),
  payload: json,
});

/** What comes back from jsonb: JSON.parse of what was stored (a number reads back as the same double; -0 as 0). */
const roundTrip = (f: ChainedFields): ChainedFields => ({ ...f, resource: JSON.parse(JSON.stringify(f.resource)) as JsonValue, payload: JSON.parse(JSON.stringify(f.payload)) as JsonValue });

/** Hand-picked rows a generator may take long to reach. */
const EDGE_CASES: ChainedFields[] = [
  { ...base(), payload: {} },
  { ...base(), payload: [] },
  { ...base(), payload: '' },
  { ...base(), payload: null, resource: {} },
  { ...base(), payload: { big: 'x'.repeat(1_000_000), list: Array.from({ length: 2_000 }, (_, i) => ({ i, v: i / 7 })) } },
  { ...base(), payload: { deep: nest(60) } },
  // Keys JavaScript and UTF-8 byte order sort differently (U+FF5E vs U+1F600), and keys jsonb itself reorders (by length).
  { ...base(), payload: { '～': 1, '😀': 2, a: 3, bb: 4, c: 5, '': 6, 'é': 7, '\u007f': 8, '\u0001': 9 } },
  { ...base(), payload: { s: '"\\/\b\f\n\r\t\u0001\u001f\u007f\u2028\u2029 ẞ 😀 ﷽' } },
  { ...base(), actor: 'ünïcödé 👩‍👩‍👧', source: '', correlationId: '', causationId: null, traceId: '' },
  { ...base(), payload: [1e21, 1e-7, 1e-6, 123456789012345680000, 0.000001, -0, 5e-324, 1.7976931348623157e308, 2 ** 53, 0.1 + 0.2] },
  { ...base(), occurredAt: '0001-01-01T00:00:00.000Z', recordedAt: '9999-12-31T23:59:59.999Z' },
  // From 2^53 up, JavaScript may write a double as the shorter midpoint next to it (found by the property below).
  { ...base(), payload: { '': { '': 18562257172278190 } } },
  { ...base(), payload: [1e23, 9.999999999999999e22, 2 ** 53 + 2, 2 ** 53 + 1, 1e22, 1.2345678901234569e23, -18562257172278190, 2 ** 64, 1.2345678901234567e300] },
];

function base(): ChainedFields {
  return {
    tenantId: 'acme',
    seq: 1,
    prevHash: '0'.repeat(64),
    eventId: 'e-1',
    eventType: 'incident.opened',
    occurredAt: '2026-01-02T03:04:05.678Z',
    recordedAt: '2026-01-02T03:04:05.999Z',
    actor: 'detector',
    action: 'incident.open',
    outcome: 'info',
    resource: { service: 'api' },
    source: 'incident.acme.opened',
    correlationId: null,
    causationId: null,
    traceId: null,
    payload: { a: 1 },
  };
}

function nest(depth: number): JsonValue {
  return depth === 0 ? 'bottom' : { [`level-${depth}`]: [nest(depth - 1)] };
}

describe('the hash chain in SQL agrees with hash-chain.ts (real Postgres)', () => {
  let db: TestDatabase;
  let admin: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = new Client({ connectionString: db.url });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.end();
    await db?.drop();
  });

  async function sqlHash(f: ChainedFields): Promise<string> {
    const { rows } = await admin.query<{ hash: string }>(
      `SELECT auditor.audit_row_hash($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14, $15, $16::jsonb) AS hash`,
      [
        f.tenantId,
        f.seq,
        f.prevHash,
        f.eventId,
        f.eventType,
        f.occurredAt,
        f.recordedAt,
        f.actor,
        f.action,
        f.outcome,
        JSON.stringify(f.resource),
        f.source,
        f.correlationId,
        f.causationId,
        f.traceId,
        JSON.stringify(f.payload),
      ],
    );
    return rows[0].hash;
  }

  it.each(EDGE_CASES.map((f, i) => [i, f] as const))('edge case %i', async (_i, f) => {
    expect(await sqlHash(f)).toBe(hashRow(roundTrip(f)));
  });

  it('agrees on doubles from 2^53 up, where two doubles can be a short decimal apart', async () => {
    await fc.assert(
      fc.asyncProperty(fc.double({ min: 2 ** 53, max: Number.MAX_VALUE, noNaN: true, noDefaultInfinity: true }), fc.boolean(), async (n, negative) => {
        const f = { ...base(), payload: [negative ? -n : n] };
        expect(await sqlHash(f)).toBe(hashRow(roundTrip(f)));
      }),
      { numRuns: 500 },
    );
  });

  it('agrees on generated rows', async () => {
    await fc.assert(
      fc.asyncProperty(fields, async (f) => {
        expect(await sqlHash(f)).toBe(hashRow(roundTrip(f)));
      }),
      { numRuns: 1_500 },
    );
  });

  describe('through the append function, as the auditor role', () => {
    let auditor: DataSource;

    beforeAll(async () => {
      auditor = auditorDataSource(db.roleUrl('auditor'));
      await auditor.initialize();
    });

    afterAll(async () => {
      await auditor?.destroy();
    });

    it('appends generated entries that verify reads back as one unbroken chain', async () => {
      const tenantId = 'generated';
      const entries = fc.sample(
        fc.record({
          eventId: fc.uuid(),
          eventType: pgText(),
          occurredAt: timestamp,
          actor: pgText(),
          action: pgText(),
          outcome,
          resource: fc.dictionary(pgText(8), json, { maxKeys: 4 }),
          source: pgText(),
          correlationId: fc.option(pgText(), { nil: null }),
          causationId: fc.option(pgText(), { nil: null }),
          payload: json,
        }),
        { numRuns: 300, seed: 15 },
      );
      const edge = EDGE_CASES.map((f, i) => ({ ...f, eventId: `edge-${i}` }));
      const all: AuditEntry[] = [...entries, ...edge].map((e) => ({ ...e, tenantId, resource: e.resource as AuditEntry['resource'] }));
      const sealer = new RowSealer(generateSigningKey().key, { now: () => new Date() });
      for (const [i, entry] of all.entries()) {
        const appended = await auditor.transaction((m) => repo.append(m, entry, i % 3 ? null : `trace-${i}`, sealer));
        expect(appended).toBe(true);
      }

      // Row-level security: the role reads a tenant's rows only in a transaction scoped to it.
      const rows = await auditor.transaction(async (m) => {
        await repo.setScope(m, { kind: 'tenant', tenantId }, tenantId);
        return repo.chainBatch(m, tenantId, 0, Number.MAX_SAFE_INTEGER, 10_000);
      });
      expect(rows).toHaveLength(all.length);
      const verdict = verifyChain(rows);
      expect(verdict.firstBreak).toBeNull();
      expect(verdict).toMatchObject({ ok: true, checkedRows: all.length, headSeq: all.length });
    });

    it('appends batches of entries of several tenants as unbroken chains, in order, each event once', async () => {
      const tenants = ['batch-a', 'batch-b', 'batch-c'];
      const generated = fc.sample(
        fc.record({
          eventType: pgText(),
          occurredAt: timestamp,
          actor: pgText(),
          action: pgText(),
          outcome,
          resource: fc.dictionary(pgText(8), json, { maxKeys: 4 }),
          source: pgText(),
          correlationId: fc.option(pgText(), { nil: null }),
          causationId: fc.option(pgText(), { nil: null }),
          payload: json,
        }),
        { numRuns: 240, seed: 16 },
      );
      const all: AuditEntry[] = generated.map((e, i) => ({ ...e, eventId: `batch-${i}`, tenantId: tenants[(i * 7) % 3] }));
      const sealer = new RowSealer(generateSigningKey().key, { now: () => new Date() });
      // Batches of uneven sizes; each but the first repeats an entry of the batch before (recorded
      // already) and one of its own (twice in one batch): both are skipped.
      let at = 0;
      let previous: AuditEntry[] = [];
      for (let size = 1; at < all.length; size = (size % 37) + 5) {
        const fresh = all.slice(at, at + size);
        at += size;
        const batch = previous.length === 0 ? fresh : [previous[0], ...fresh, fresh[0]];
        const appended = await auditor.transaction((m) => repo.appendBatch(m, batch.map((entry, i) => ({ entry, traceId: i % 2 ? null : `trace-${i}` })), sealer));
        expect(appended).toEqual(previous.length === 0 ? fresh.map(() => true) : [false, ...fresh.map(() => true), false]);
        previous = fresh;
      }

      for (const tenantId of tenants) {
        const rows = await auditor.transaction(async (m) => {
          await repo.setScope(m, { kind: 'tenant', tenantId }, tenantId);
          return repo.chainBatch(m, tenantId, 0, Number.MAX_SAFE_INTEGER, 10_000);
        });
        const expected = all.filter((e) => e.tenantId === tenantId).map((e) => e.eventId);
        expect(rows.map((r) => r.eventId)).toEqual(expected);
        // One seal per batch that appended rows of the tenant, stored at its last row: the ranges tile the chain.
        const ranges = rows.flatMap((r) => (r.seal ? [[r.seal.fromSeq ?? r.seal.seq, r.seal.seq] as const] : []));
        expect(ranges.map(([from], i) => from === (i === 0 ? 1 : ranges[i - 1][1] + 1))).toEqual(ranges.map(() => true));
        expect(ranges.at(-1)?.[1]).toBe(expected.length);
        const keys = (keyId: string) => (keyId === sealer.key.keyId ? sealer.key.publicKey : null);
        const evidence = { checkpoints: new Map(), sealedAfter: 0, keys };
        const verdict = closeChain(verifyChain(rows, START_OF_CHAIN, evidence), expected.length, null, keys, 0);
        expect(verdict.firstBreak).toBeNull();
        expect(verdict).toMatchObject({ ok: true, checkedRows: expected.length, headSeq: expected.length });
      }
    });
  });
});
