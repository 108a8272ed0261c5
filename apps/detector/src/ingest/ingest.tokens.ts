export const INGEST_CONFIG = Symbol('INGEST_CONFIG');
export const INGEST_KEYRING = Symbol('INGEST_KEYRING');
export const INGEST_RATE_LIMITER = Symbol('INGEST_RATE_LIMITER');
export const INGEST_QUOTAS = Symbol('INGEST_QUOTAS');
export const INGEST_CLOCK = Symbol('INGEST_CLOCK');

/** Time for ingest decisions (rate limits, dead-letter stamps); tests move it. */
export interface IngestClock {
  now(): Date;
}
