/** Why a key could not be managed. The controller maps each to an HTTP status. */
export enum ApiKeysErrorCode {
  NotFound = 'api_key_not_found',
  Revoked = 'api_key_revoked',
  InvalidExpiry = 'invalid_expiry',
  /** The bucket the decision service reads could not be changed: nothing was changed. */
  BucketUnavailable = 'api_keys_bucket_unavailable',
}

export class ApiKeysError extends Error {
  constructor(
    readonly code: ApiKeysErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiKeysError';
  }
}
