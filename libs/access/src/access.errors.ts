/** Why a request was not let through; each service maps the code to its HTTP answer. */
export enum AccessErrorCode {
  /** No credential, or not a Bearer one: 401. */
  MissingCredential = 'missing_credential',
  /** Unknown, revoked or expired API key, or a token that failed verification: 401. */
  InvalidCredential = 'invalid_credential',
  /** Authenticated, but its roles do not allow this: 403. */
  RoleForbidden = 'role_forbidden',
  /** Authenticated, but the tenant is outside its scope: 403. */
  TenantForbidden = 'tenant_forbidden',
}

export function isAuthenticationFailure(code: AccessErrorCode): boolean {
  return code === AccessErrorCode.MissingCredential || code === AccessErrorCode.InvalidCredential;
}
