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

/**
 * The detector's instance quota as HTTP ingest sees it (see DetectionService.refusalOfNewInstance):
 * the refusal an event of the instance would meet, or null. Absent when ingest runs without detection.
 */
export const INGEST_INSTANCE_ADMISSION = Symbol('INGEST_INSTANCE_ADMISSION');
export interface IngestInstanceAdmission {
  refusalOf(ref: { tenantId: string; service: string; instance: string }): { message: string } | null;
}
