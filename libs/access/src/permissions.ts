import type { Principal, Role } from './principal.js';

/**
 * What a request may do. One table decides it for the decision service's admin API and the
 * auditor's API alike:
 *
 * | permission            | viewer | operator | approver | admin |
 * |-----------------------|:------:|:--------:|:--------:|:-----:|
 * | `read`                |   ✓    |    ✓     |    ✓     |   ✓   |
 * | `tenants:apply`       |        |    ✓     |          |   ✓   |
 * | `remediations:review` |        |          |    ✓     |   ✓   |
 * | `breaker:resume`      |        |          |    ✓     |   ✓   |
 * | `api_keys:manage`     |        |          |          |   ✓   |
 *
 * `read` covers tenants, versions, diffs, backtests (they change nothing), the breaker's state,
 * and the audit trail with its verification. The operator changes policy but may not approve
 * what policy then asks approval for, and the approver may not rewrite the policy it approves
 * under: keeping the two apart is the separation of duties auditors look for.
 */
export const PERMISSIONS = ['read', 'tenants:apply', 'remediations:review', 'breaker:resume', 'api_keys:manage'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  viewer: ['read'],
  operator: ['read', 'tenants:apply'],
  approver: ['read', 'remediations:review', 'breaker:resume'],
  admin: PERMISSIONS,
};

export function mayDo(principal: Pick<Principal, 'roles'>, permission: Permission): boolean {
  return principal.roles.some((role) => ROLE_PERMISSIONS[role].includes(permission));
}
