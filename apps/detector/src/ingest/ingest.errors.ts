/** Why an ingest request was refused. The exception filter maps each to an HTTP status. */
export enum IngestErrorCode {
  MissingApiKey = 'missing_api_key',
  /** Unknown, or another tenant's: one answer, so a key cannot be probed for whose it is. */
  InvalidApiKey = 'invalid_api_key',
  PayloadTooLarge = 'payload_too_large',
  TooDeep = 'too_deep',
  MalformedJson = 'malformed_json',
  InvalidEvent = 'invalid_event',
  RateLimited = 'rate_limited',
  /** A new instance of a tenant that tracks DETECTOR_MAX_INSTANCES_PER_TENANT already. */
  InstanceQuotaExceeded = 'instance_quota_exceeded',
  Unavailable = 'ingest_unavailable',
}

/** One rejected event (or alert): its position in the request and the first offending field. */
export interface IngestViolation {
  /** Position in `events` / `alerts`; null when the request as a whole is malformed. */
  index: number | null;
  /** Dotted path from the request body's root, e.g. `events.3.data.intervalMs`. */
  field: string;
  message: string;
}

export class IngestError extends Error {
  constructor(
    readonly code: IngestErrorCode,
    message: string,
    readonly details: { violations?: IngestViolation[]; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'IngestError';
  }
}

/**
 * 413 naming the limit. The limit is DETECTOR_INGEST_MAX_BODY_BYTES alone: the configuration
 * refuses one larger than the byte burst, so a body within it always passes the byte budget in time.
 */
export function payloadTooLarge(maxBodyBytes: number, declaredBytes?: number): IngestError {
  const size = declaredBytes === undefined ? 'the body exceeds' : `the body declares ${declaredBytes} bytes, more than`;
  return new IngestError(IngestErrorCode.PayloadTooLarge, `${size} ${maxBodyBytes} bytes (DETECTOR_INGEST_MAX_BODY_BYTES); send smaller batches`);
}
