import { AccessErrorCode } from './access.errors.js';
import { hashApiKey } from './api-key.js';
import { bearerToken, looksLikeJwt } from './bearer.js';
import type { OidcVerifier } from './oidc.js';
import { mayDo, type Permission } from './permissions.js';
import { mayAccessTenant, type Principal } from './principal.js';

export type Authentication = { ok: true; principal: Principal } | { ok: false; code: AccessErrorCode; reason: string };

/** Finds the principal of an API key by the key's sha256 (null: unknown, revoked or expired). */
export type ApiKeyLookup = (keyHash: string) => Principal | null | Promise<Principal | null>;

/**
 * Who a bearer credential is: an API key (looked up by its hash) or, when OIDC is configured and
 * the credential is a JWT, a verified token. Nothing else is accepted.
 */
export class Authenticator {
  constructor(
    private readonly lookupApiKey: ApiKeyLookup,
    private readonly oidc: OidcVerifier | null,
  ) {}

  async authenticate(authorization: string | string[] | undefined): Promise<Authentication> {
    const token = bearerToken(authorization);
    if (!token) return { ok: false, code: AccessErrorCode.MissingCredential, reason: 'no Bearer credential' };
    if (looksLikeJwt(token)) {
      if (!this.oidc) return { ok: false, code: AccessErrorCode.InvalidCredential, reason: 'a JWT was presented but OIDC is not configured' };
      const verified = await this.oidc.verify(token);
      return verified.ok ? verified : { ok: false, code: AccessErrorCode.InvalidCredential, reason: verified.reason };
    }
    const principal = await this.lookupApiKey(hashApiKey(token));
    return principal ? { ok: true, principal } : { ok: false, code: AccessErrorCode.InvalidCredential, reason: 'unknown, revoked or expired API key' };
  }
}

/** Whether an authenticated principal may do `permission` (on `tenantId`, when the request names one); null when it may. */
export function authorizationError(principal: Principal, permission: Permission, tenantId?: string): AccessErrorCode | null {
  if (!mayDo(principal, permission)) return AccessErrorCode.RoleForbidden;
  if (tenantId !== undefined && !mayAccessTenant(principal, tenantId)) return AccessErrorCode.TenantForbidden;
  return null;
}
