import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { tenantsFileSchema, type TenantProfile } from './tenant-profile.js';
import { TenantsError, TenantsErrorCode } from './tenants.errors.js';

/** Parses and validates the tenants file; the error lists every problem at once. */
export function parseTenantsFile(text: string, source: string): TenantProfile[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new TenantsError(TenantsErrorCode.InvalidJson, `${source} is not JSON: ${(error as Error).message}`);
  }
  const result = tenantsFileSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    throw new TenantsError(TenantsErrorCode.InvalidProfiles, `${source} has invalid tenant profiles`, issues);
  }
  return result.data.tenants;
}

export function readTenantsFile(path: string): TenantProfile[] {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new TenantsError(TenantsErrorCode.FileUnreadable, `cannot read tenants file ${absolute}: ${(error as Error).message}`);
  }
  return parseTenantsFile(text, absolute);
}
