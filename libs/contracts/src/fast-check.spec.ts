import { z } from 'zod';
import { eventEnvelope, newEvent, parseEnvelope } from './envelope.js';
import { EVENT_TYPES } from './event-types.js';
import { compileFastCheck } from './fast-check.js';

/**
 * The compiled check must accept exactly what zod accepts (for JSON input) and return what zod
 * would. Values are generated from each event type's own schema, valid or slightly wrong at
 * every node, so a new field or a new kind of check is covered without editing this file.
 */

type Schema = z.core.$ZodType;
interface Def {
  type: string;
  format?: string;
  shape?: Record<string, Schema>;
  innerType?: Schema;
  element?: Schema;
  options?: Schema[];
  valueType?: Schema;
}

/** A tiny deterministic generator, so a failure can be reproduced. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const STRINGS = ['api', 'i-1', 'a.b', 'has space', '', '*', 'x'.repeat(65), 'x'.repeat(201), 'x'.repeat(501), 'firing', 'resolved', 'agent', 'SIGKILL', 'restart'];
const NUMBERS = [0, -1, 1, 1.5, 5, 99, 100, 1000, 600_000, 600_001, 2 ** 53, 0.5, 64, 65, 3_600_001];
const UUIDS = ['0193f1c2-7b3a-7cde-8f01-23456789abcd', '0193F1C2-7B3A-7CDE-8F01-23456789ABCD', 'not-a-uuid'];
const DATES = ['2026-11-28T03:00:00.000Z', '2026-11-28T03:00:00Z', '2026-11-28T03:00:00+01:00', '2026-11-28 03:00', 'yesterday'];

/** A number inside the bounds the schema's checks set (on a bound now and then). */
function inRange(schema: Schema, rnd: () => number): number {
  let lo = 0;
  let hi = 1000;
  let integer = false;
  for (const c of (schema._zod.def as { checks?: { _zod: { def: { check: string; value?: number; format?: string } } }[] }).checks ?? []) {
    const d = c._zod.def;
    if (d.check === 'greater_than' && d.value !== undefined) lo = d.value;
    if (d.check === 'less_than' && d.value !== undefined) hi = d.value;
    if (d.check === 'number_format') integer = true;
  }
  if (hi < lo) hi = lo + 1000;
  const r = rnd();
  const v = r < 0.1 ? lo : r < 0.2 ? hi : lo + (hi - lo) * rnd();
  return integer ? Math.round(v) : v;
}

function generate(schema: Schema, rnd: () => number, depth = 0): unknown {
  const def = schema._zod.def as unknown as Def;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  // Now and then, a value of the wrong type altogether.
  if (rnd() < 0.01) return pick([null, true, 7, 'text', [], {}]);
  // Mostly values that are likely valid, so that whole envelopes often are; else edge cases.
  const likely = rnd() < 0.85;
  switch (def.type) {
    case 'string':
      if (def.format === 'uuid') return likely ? UUIDS[0] : pick(UUIDS);
      if (def.format === 'datetime') return likely ? DATES[0] : pick(DATES);
      return likely ? pick(['api', 'i-1']) : pick(STRINGS);
    case 'number':
      return likely ? inRange(schema, rnd) : pick(NUMBERS);
    case 'boolean':
      return rnd() < 0.5;
    case 'literal':
    case 'enum': {
      const values = [...(schema._zod.values ?? [])];
      return rnd() < 0.9 ? pick(values) : 'no-such-value';
    }
    case 'nullable':
      return rnd() < 0.3 ? null : generate(def.innerType as Schema, rnd, depth);
    case 'optional':
      return generate(def.innerType as Schema, rnd, depth);
    case 'union':
      return generate(pick(def.options as Schema[]), rnd, depth);
    case 'array': {
      const n = depth > 3 ? 0 : Math.floor(rnd() * 3);
      return Array.from({ length: n }, () => generate(def.element as Schema, rnd, depth + 1));
    }
    case 'record': {
      const out: Record<string, unknown> = {};
      const n = Math.floor(rnd() * 3);
      for (let i = 0; i < n; i++) out[pick(STRINGS)] = generate(def.valueType as Schema, rnd, depth + 1);
      return out;
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(def.shape ?? {})) {
        const optional = (field._zod.def as unknown as Def).type === 'optional';
        if (rnd() < (optional ? 0.4 : 0.01)) continue; // leave it out
        out[key] = generate(field, rnd, depth + 1);
      }
      if (rnd() < 0.01) out.unexpected = 1;
      return out;
    }
    case 'unknown':
    case 'any':
      return pick([null, 1, 'x', { a: [1] }]);
    default:
      throw new Error(`the generator does not know ${def.type}; teach it, so the fast check is tested on it`);
  }
}

describe('compiled envelope check', () => {
  it('compiles every event type, so none falls back to zod on the hot path', () => {
    const envelope = eventEnvelope._zod.def as unknown as Def;
    const missing = (envelope.options ?? []).filter((option) => compileFastCheck(option) === null).map((option) => String((option._zod.def as unknown as Def).shape?.type._zod.values?.values().next().value));
    expect(missing).toEqual([]);
  });

  it.each(EVENT_TYPES)('accepts exactly what zod accepts for %s, and returns the same value', (type) => {
    const schema = (eventEnvelope._zod.def as unknown as Def).options?.find((o) => (o._zod.def as unknown as Def).shape?.type._zod.values?.has(type));
    const check = compileFastCheck(schema as Schema);
    expect(check).not.toBeNull();
    const rnd = random(EVENT_TYPES.indexOf(type) + 1);
    const counts = { accepted: 0, refused: 0 };
    for (let i = 0; i < 3_000; i++) {
      // Through JSON, as a consumer sees it: no undefined, no class instances.
      const value: unknown = JSON.parse(JSON.stringify(generate(schema as Schema, rnd)));
      const zod = eventEnvelope.safeParse(value);
      const fast = check!(value);
      if (fast !== zod.success) throw new Error(`fast check says ${fast}, zod says ${zod.success} for ${JSON.stringify(value)}`);
      if (zod.success) expect(zod.data).toEqual(value);
      const parsed = parseEnvelope(value);
      expect(parsed.ok).toBe(zod.success);
      counts[zod.success ? 'accepted' : 'refused']++;
    }
    // Both sides of the boundary were exercised, or this test proves nothing.
    expect(counts.accepted).toBeGreaterThan(100);
    expect(counts.refused).toBeGreaterThan(100);
  });

  it('leaves to zod what JSON cannot carry or zod would not return unchanged', () => {
    const valid = newEvent('health.heartbeat', { tenantId: 'acme', producer: 'test', data: { service: 'api', instance: 'i-1', intervalMs: 1000, sequence: 1 } });
    const withProto = JSON.parse(JSON.stringify(valid).replace('"data":{', '"data":{"__proto__":{"x":1},')) as unknown;
    const optionalUndefined = newEvent('health.stopping', { tenantId: 'acme', producer: 'test', data: { service: 'api', instance: 'i-1' } });
    const cases: unknown[] = [
      withProto,
      { ...valid, data: { ...valid.data, intervalMs: Number.POSITIVE_INFINITY } },
      { ...valid, data: { ...valid.data, sequence: Number.NaN } },
      { ...optionalUndefined, data: { ...optionalUndefined.data, reason: undefined } },
      { ...valid, type: 'health.unknown' },
      Object.assign(Object.create({ inherited: true }) as object, valid),
    ];
    for (const value of cases) {
      const parsed = parseEnvelope(value);
      const zod = eventEnvelope.safeParse(value);
      expect(parsed.ok).toBe(zod.success);
      if (parsed.ok && zod.success) expect(parsed.value).toEqual(zod.data);
    }
    expect(parseEnvelope(withProto)).toMatchObject({ ok: false, error: { field: 'data' } });
  });

  it('gives the error zod gives', () => {
    const valid = newEvent('health.heartbeat', { tenantId: 'acme', producer: 'test', data: { service: 'api', instance: 'i-1', intervalMs: 1000, sequence: 1 } });
    const parsed = parseEnvelope({ ...valid, data: { ...valid.data, intervalMs: 5 } });
    expect(parsed).toMatchObject({ ok: false, error: { field: 'data.intervalMs' } });
  });

  it('newEvent returns a copy: the event does not share data with what the caller passed', () => {
    const data = { service: 'api', instance: 'i-1', intervalMs: 1000, sequence: 1 };
    const event = newEvent('health.heartbeat', { tenantId: 'acme', producer: 'test', data });
    data.sequence = 2;
    expect(event.data.sequence).toBe(1);
  });
});
