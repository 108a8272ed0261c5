import { createHash } from 'node:crypto';
import type { TenantProfile } from './tenant-profile.js';

/** JSON with object keys sorted at every level, so equal profiles serialise to equal bytes. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** `sha256:<16 hex>`: changes whenever anything in the profile changes, and only then. */
export function policyVersionOf(profile: TenantProfile): string {
  return `sha256:${createHash('sha256').update(canonicalJson(profile)).digest('hex').slice(0, 16)}`;
}

/** Recorded on decisions taken for a tenant that has no profile. */
export const NO_POLICY_VERSION = 'none';
