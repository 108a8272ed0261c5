import { SUBJECT_TOKEN_PATTERN, SYSTEM_TENANT_ID } from '@autoheal/contracts';

/** The roles a person's credential carries; what each may do is in permissions.ts. */
export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Every tenant, or the listed ones. */
export type TenantScope = '*' | readonly string[];

export type CredentialKind = 'api_key' | 'oidc';

/**
 * Who a request authenticated as: a person's API key or OIDC token. `subject` (a name or email)
 * is what the audit trail and approvals record as the actor; `id` names the credential
 * (`ak_…` for an API key, `oidc_…` for an issuer's subject) and never reveals a secret.
 */
export interface Principal {
  id: string;
  subject: string;
  kind: CredentialKind;
  roles: readonly Role[];
  tenantScope: TenantScope;
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function mayAccessTenant(principal: Pick<Principal, 'tenantScope'>, tenantId: string): boolean {
  return principal.tenantScope === '*' || principal.tenantScope.includes(tenantId);
}

/**
 * A tenant scope from its wire form: `'*'` or a non-empty list of tenant ids (subject tokens).
 * Returns an error message naming the problem, or the scope.
 */
export function parseTenantScope(value: unknown): { ok: true; scope: TenantScope } | { ok: false; message: string } {
  if (value === '*') return { ok: true, scope: '*' };
  if (!Array.isArray(value) || value.length === 0) return { ok: false, message: "tenantScope must be '*' or a non-empty list of tenant ids" };
  const bad: unknown = (value as unknown[]).find((t) => typeof t !== 'string' || !SUBJECT_TOKEN_PATTERN.test(t));
  if (bad !== undefined) return { ok: false, message: `tenantScope holds an invalid tenant id ${JSON.stringify(bad)} (1-64 of A-Z a-z 0-9 _ -)` };
  return { ok: true, scope: [...new Set(value as string[])].sort() };
}

/**
 * The audit trail that records changes to credentials whose scope is every tenant, and refused
 * requests. `@` is not allowed in a tenant id (SUBJECT_TOKEN_PATTERN), so no tenant can ever own
 * this trail; the events bound for it (SYSTEM_EVENT_TYPES) carry it as their tenant.
 */
export const SYSTEM_TRAIL_ID = SYSTEM_TENANT_ID;
