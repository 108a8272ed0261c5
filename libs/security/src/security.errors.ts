/** Why key material could not be loaded; the message names the file and every problem in it. */
export enum SecurityErrorCode {
  KeyFileUnreadable = 'key_file_unreadable',
  KeyFileInvalid = 'key_file_invalid',
  TrustFileUnreadable = 'trust_file_unreadable',
  TrustFileInvalid = 'trust_file_invalid',
}

export class SecurityError extends Error {
  constructor(
    readonly code: SecurityErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SecurityError';
  }
}
