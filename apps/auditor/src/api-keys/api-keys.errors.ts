/** Why a request was not let through. The guard maps each to an HTTP status. */
export enum ApiKeyErrorCode {
  MissingApiKey = 'missing_api_key',
  UnknownApiKey = 'unknown_api_key',
  TenantForbidden = 'tenant_forbidden',
}
