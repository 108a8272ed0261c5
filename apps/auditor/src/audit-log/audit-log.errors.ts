/** Why an audit operation did not happen. Edges (HTTP, JetStream) map each code exhaustively. */
export enum AuditLogErrorCode {
  /** The pagination cursor was not one this service issued. */
  InvalidCursor = 'invalid_cursor',
  /** `from` is not before `to`. */
  InvalidTimeRange = 'invalid_time_range',
  /** The event cannot be stored as it is (Postgres rejects its content); retrying will not help. */
  UnstorableEvent = 'unstorable_event',
}

export class AuditLogError extends Error {
  constructor(
    readonly code: AuditLogErrorCode,
    message: string,
    /** The request field at fault, when there is one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'AuditLogError';
  }
}
