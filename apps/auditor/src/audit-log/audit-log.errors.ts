import type { ReadLimitRefusal } from './read-limits.js';

/** Why an audit operation did not happen. Edges (HTTP, JetStream) map each code exhaustively. */
export enum AuditLogErrorCode {
  /** The pagination cursor was not one this service issued. */
  InvalidCursor = 'invalid_cursor',
  /** `from` is not before `to`. */
  InvalidTimeRange = 'invalid_time_range',
  /** The event cannot be stored as it is (Postgres rejects its content); retrying will not help. */
  UnstorableEvent = 'unstorable_event',
  /** The API key has spent its read budget for now (`limit` says which, and when to retry). */
  RateLimited = 'rate_limited',
  /** The tenant has no chain: nothing to checkpoint. */
  NoChain = 'no_chain',
  /** The export's range holds more rows than AUDITOR_EXPORT_MAX_ROWS. */
  ExportTooLarge = 'export_too_large',
}

export class AuditLogError extends Error {
  constructor(
    readonly code: AuditLogErrorCode,
    message: string,
    /** The request field at fault, when there is one. */
    readonly field?: string,
    /** For RateLimited: the limit that refused, and the wait before a retry can pass. */
    readonly limit?: ReadLimitRefusal,
  ) {
    super(message);
    this.name = 'AuditLogError';
  }
}
