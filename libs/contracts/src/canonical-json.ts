/**
 * JSON with object keys sorted at every level (by UTF-16 code unit, as `Array.prototype.sort`)
 * and no whitespace: the one string that a signer and a verifier, a hasher and an auditor, or
 * two versions of a document derive from equal data, whatever order its keys were built in.
 * `undefined` members are left out and `undefined` in arrays is `null` (as JSON.stringify does);
 * non-finite numbers have no JSON form and are refused. Used for command signatures
 * (libs/security), the audit hash chain (apps/auditor) and policy versions (apps/decision).
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON has no form for the non-finite number ${value}`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON has no form for a ${typeof value}`);
  }
}
