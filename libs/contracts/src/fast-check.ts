import type { z } from 'zod';

/**
 * A plain predicate compiled once from a zod schema, for the hot path of validation. zod
 * builds result objects, issue lists and a copy of every object it accepts; a consumer only
 * needs to know "valid or not" for almost every message, and the error message for the rare
 * invalid one. So the contract stays the zod schema, and this is a shortcut in front of it:
 *
 * - `check(value)` true means zod accepts `value` and its output equals `value` (nothing in the
 *   supported subset transforms), so the value can be used as it is;
 * - false means "ask zod": zod's verdict and message are authoritative. The predicate may
 *   refuse more than zod does (e.g. an own `__proto__` key, an optional key present as
 *   `undefined`, extra keys on a non-strict object, which zod would strip); that costs only time.
 *
 * Returns null when the schema uses anything outside the subset below (refinements,
 * transforms, defaults, coercion, other string formats...): such a schema is always left to
 * zod. The subset is an allow-list, so a new kind of schema is never checked wrongly, only slowly.
 */
export type FastCheck = (value: unknown) => boolean;

/** String formats whose zod check is exactly one regular expression (`def.pattern`). */
const PATTERN_FORMATS = new Set(['uuid', 'datetime', 'date', 'time', 'regex']);

interface CheckDef {
  check: string;
  format?: string;
  pattern?: RegExp;
  minimum?: number;
  maximum?: number;
  length?: number;
  value?: number;
  inclusive?: boolean;
}

/** What compileFastCheck reads of a zod schema: its definition (zod 4 keeps it in `_zod.def`). */
interface SchemaDef {
  type: string;
  coerce?: boolean;
  checks?: { _zod: { def: CheckDef } }[];
  format?: string;
  pattern?: RegExp;
  shape?: Record<string, AnySchema>;
  catchall?: AnySchema;
  innerType?: AnySchema;
  element?: AnySchema;
  options?: AnySchema[];
  keyType?: AnySchema;
  valueType?: AnySchema;
}

type AnySchema = z.core.$ZodType;

function defOf(schema: AnySchema): SchemaDef {
  return schema._zod.def;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A check on a value whose type (string, number or array, as `kind` says) was checked before. */
type ValueCheck = (v: string | number | unknown[]) => boolean;

/** The checks of a schema as predicates over its (already type-checked) value, or null if one is not supported. */
function compileChecks(def: SchemaDef, kind: 'string' | 'number' | 'array'): ValueCheck[] | null {
  const out: ValueCheck[] = [];
  for (const c of def.checks ?? []) {
    // A check's `when` only decides whether zod runs it (length checks skip nullish values);
    // running it always can only refuse more, which sends the value to zod: still sound.
    const d = c._zod.def;
    switch (d.check) {
      case 'min_length': {
        if (kind === 'number') return null;
        const min = d.minimum as number;
        out.push((v) => (v as string | unknown[]).length >= min);
        break;
      }
      case 'max_length': {
        if (kind === 'number') return null;
        const max = d.maximum as number;
        out.push((v) => (v as string | unknown[]).length <= max);
        break;
      }
      case 'length_equals': {
        if (kind === 'number') return null;
        const len = d.length as number;
        out.push((v) => (v as string | unknown[]).length === len);
        break;
      }
      case 'string_format': {
        if (kind !== 'string' || !PATTERN_FORMATS.has(d.format ?? '') || !(d.pattern instanceof RegExp)) return null;
        const pattern = d.pattern;
        out.push((v) => {
          pattern.lastIndex = 0;
          return pattern.test(v as string);
        });
        break;
      }
      case 'number_format':
        if (kind !== 'number' || d.format !== 'safeint') return null;
        out.push((v) => Number.isSafeInteger(v));
        break;
      case 'greater_than': {
        if (kind !== 'number' || typeof d.value !== 'number') return null;
        const bound = d.value;
        out.push(d.inclusive ? (v) => (v as number) >= bound : (v) => (v as number) > bound);
        break;
      }
      case 'less_than': {
        if (kind !== 'number' || typeof d.value !== 'number') return null;
        const bound = d.value;
        out.push(d.inclusive ? (v) => (v as number) <= bound : (v) => (v as number) < bound);
        break;
      }
      default:
        return null;
    }
  }
  return out;
}

function all(checks: ValueCheck[], v: string | number | unknown[]): boolean {
  for (let i = 0; i < checks.length; i++) if (!checks[i](v)) return false;
  return true;
}

/** Compiles `schema` into a FastCheck, or returns null when the schema is outside the supported subset. */
export function compileFastCheck(schema: AnySchema): FastCheck | null {
  const def = defOf(schema);
  if (def.coerce) return null;
  switch (def.type) {
    case 'string': {
      const checks = compileChecks(def, 'string');
      if (!checks) return null;
      // z.uuid(), z.iso.datetime() are string schemas that are a format check themselves.
      if (def.format !== undefined) {
        if (!PATTERN_FORMATS.has(def.format) || !(def.pattern instanceof RegExp)) return null;
        const pattern = def.pattern;
        checks.unshift((v) => {
          pattern.lastIndex = 0;
          return pattern.test(v as string);
        });
      }
      return (v) => typeof v === 'string' && all(checks, v);
    }
    case 'number': {
      if (def.format !== undefined) return null;
      const checks = compileChecks(def, 'number');
      if (!checks) return null;
      return (v) => typeof v === 'number' && Number.isFinite(v) && all(checks, v);
    }
    case 'boolean':
      return (v) => typeof v === 'boolean';
    case 'unknown':
    case 'any':
      return () => true;
    case 'literal':
    case 'enum': {
      const values = schema._zod.values;
      if (!values) return null;
      return (v) => values.has(v as never);
    }
    case 'nullable': {
      const inner = compileFastCheck(def.innerType as AnySchema);
      if (!inner) return null;
      return (v) => v === null || inner(v);
    }
    case 'optional': {
      const inner = compileFastCheck(def.innerType as AnySchema);
      if (!inner) return null;
      return (v) => v === undefined || inner(v);
    }
    case 'array': {
      const element = compileFastCheck(def.element as AnySchema);
      const checks = compileChecks(def, 'array');
      if (!element || !checks) return null;
      return (v) => {
        if (!Array.isArray(v) || !all(checks, v)) return false;
        for (let i = 0; i < v.length; i++) if (!element(v[i])) return false;
        return true;
      };
    }
    case 'union': {
      const options = (def.options ?? []).map(compileFastCheck);
      if (options.length === 0 || options.some((o) => o === null) || (def.checks?.length ?? 0) > 0) return null;
      const compiled = options as FastCheck[];
      return (v) => compiled.some((o) => o(v));
    }
    case 'record': {
      const keyDef = defOf(def.keyType as AnySchema);
      // Only string keys without checks: other key schemas make zod demand or rename keys.
      if (keyDef.type !== 'string' || keyDef.format !== undefined || (keyDef.checks?.length ?? 0) > 0 || (def.checks?.length ?? 0) > 0) return null;
      const value = compileFastCheck(def.valueType as AnySchema);
      if (!value) return null;
      return (v) => {
        if (!isPlainObject(v)) return false;
        for (const key of Object.keys(v)) {
          // zod leaves an own __proto__ out of its output: let zod handle it.
          if (key === '__proto__' || !value(v[key])) return false;
        }
        return true;
      };
    }
    case 'object':
      return compileObject(def);
    default:
      return null;
  }
}

function compileObject(def: SchemaDef): FastCheck | null {
  if ((def.checks?.length ?? 0) > 0) return null;
  // strict() has a `never` catchall; the default strips unknown keys (so the output would
  // differ from the input: refuse them here, zod strips); any other catchall is not supported.
  if (def.catchall !== undefined && defOf(def.catchall).type !== 'never') return null;
  const shape = def.shape ?? {};
  const fields: { key: string; optional: boolean; check: FastCheck }[] = [];
  for (const key of Object.keys(shape)) {
    const fieldDef = defOf(shape[key]);
    const optional = fieldDef.type === 'optional';
    const check = compileFastCheck(optional ? (fieldDef.innerType as AnySchema) : shape[key]);
    if (!check || key === '__proto__') return null;
    fields.push({ key, optional, check });
  }
  const known = new Set(fields.map((f) => f.key));
  return (v) => {
    if (!isPlainObject(v)) return false;
    for (const key in v) if (!known.has(key)) return false;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      const value = v[f.key];
      if (value === undefined) {
        // Absent is fine for an optional field; present as undefined is left to zod.
        if (!f.optional || f.key in v) return false;
        continue;
      }
      if (!f.check(value)) return false;
    }
    return true;
  };
}
