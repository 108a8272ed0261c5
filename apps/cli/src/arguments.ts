import { parseTenantScope, ROLES, isRole, type Role } from '@autoheal/access';
import { SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';
import { CliError, CliErrorCode } from './cli.errors.js';

/*
 * Checks of argument values, each a plain function that returns the value as the API wants it or
 * throws a usage error naming the option: a bad value is refused before anything is sent.
 */

function usage(message: string): CliError {
  return new CliError(CliErrorCode.Usage, message);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KEY_ID = /^ak_[0-9a-f]{16}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

export function text(what: string, value: string, max = 200): string {
  if (value.trim() === '') throw usage(`${what} is empty`);
  if (value.length > max) throw usage(`${what} is longer than ${max} characters`);
  return value;
}

export function tenantId(value: string): string {
  if (!SUBJECT_TOKEN_PATTERN.test(value)) throw usage(`${JSON.stringify(value)} is not a tenant id (1-64 characters of A-Z a-z 0-9 _ -)`);
  return value;
}

export function uuid(what: string, value: string): string {
  if (!UUID.test(value)) throw usage(`${JSON.stringify(value)} is not ${what} (a UUID)`);
  return value;
}

export function keyId(value: string, what = 'a key id'): string {
  if (!KEY_ID.test(value)) throw usage(`${JSON.stringify(value)} is not ${what} (ak_ and 16 hex digits)`);
  return value;
}

export function integer(option: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw usage(`${option} must be a whole number from ${min} to ${max}`);
  return n;
}

/** An RFC 3339 time with a zone, as UTC ISO. */
export function instant(option: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!RFC3339.test(value) || Number.isNaN(Date.parse(value))) throw usage(`${option} must be an RFC 3339 time with a zone, e.g. 2026-12-31T23:59:00Z`);
  return new Date(value).toISOString();
}

export function roles(value: string): Role[] {
  const list = text('--roles', value).split(',').map((r) => r.trim());
  const unknown = list.filter((r) => !isRole(r));
  if (unknown.length > 0) throw usage(`--roles: unknown role ${unknown.join(', ')} (roles: ${ROLES.join(', ')})`);
  return list as Role[];
}

export function tenantScope(value: string): '*' | string[] {
  const raw = text('--tenants', value, 100_000);
  const scope = parseTenantScope(raw === '*' ? '*' : raw.split(',').map((t) => t.trim()));
  if (!scope.ok) throw usage(`--tenants: ${scope.message.replace('tenantScope', "'*' or tenant ids separated by commas;")}`);
  return scope.scope === '*' ? '*' : [...scope.scope];
}
