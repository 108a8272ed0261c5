export const INGEST_CONFIG = Symbol('INGEST_CONFIG');
export const INGEST_KEYRING = Symbol('INGEST_KEYRING');
export const INGEST_QUOTAS = Symbol('INGEST_QUOTAS');
/** The detector's secret for deriving Alertmanager event ids (a Buffer). */
export const INGEST_ALERT_ID_KEY = Symbol('INGEST_ALERT_ID_KEY');
export const INGEST_CLOCK = Symbol('INGEST_CLOCK');

/** Time for ingest decisions (rate limits, dead-letter stamps); tests move it. */
export interface IngestClock {
  now(): Date;
}
