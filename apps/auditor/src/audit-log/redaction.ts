import type { JsonValue } from './hash-chain.js';

/** What a redacted field's value becomes in the trail: the field stays, so the entry shows something was removed. */
export const REDACTED = '[redacted]';

/**
 * Field names stripped from every payload before it is hashed into the chain, whatever the
 * event: the chain is append-only, so a secret that reached it could never be removed. Events
 * should carry no secrets at all (tenant documents only name them, `secretRef`); this is the
 * second line, and `AUDITOR_REDACT_FIELDS` extends it.
 */
export const DEFAULT_REDACTED_FIELDS = [
  'routingKey',
  'routing_key',
  'secret',
  'password',
  'token',
  'apiKey',
  'authorization',
  'privateKey',
  'clientSecret',
  'credentials',
] as const;

function normalise(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

/** The set a redaction compares against: names without case, `-` or `_`, so `api_key` covers `apiKey`. */
export function redactionSet(names: Iterable<string>): ReadonlySet<string> {
  return new Set([...names].map(normalise));
}

/** A diff entry (`{ path: 'a.b.routingKey', from, to }`, as in `compliance.policy_changed`) names its field in the path. */
function isChangeOfRedactedField(value: { [key: string]: JsonValue }, fields: ReadonlySet<string>): boolean {
  const path = value.path;
  return typeof path === 'string' && ('from' in value || 'to' in value) && fields.has(normalise(path.slice(path.lastIndexOf('.') + 1)));
}

/**
 * The value with every field whose name is in `fields` (at any depth) replaced by `[redacted]`,
 * and the `from`/`to` of every diff entry whose path ends in such a field; the input is not changed.
 */
export function redactFields(value: JsonValue, fields: ReadonlySet<string>): JsonValue {
  if (fields.size === 0 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactFields(item, fields));
  const change = isChangeOfRedactedField(value, fields);
  const out: { [key: string]: JsonValue } = {};
  for (const [key, child] of Object.entries(value)) {
    out[key] = fields.has(normalise(key)) || (change && (key === 'from' || key === 'to')) ? REDACTED : redactFields(child, fields);
  }
  return out;
}
