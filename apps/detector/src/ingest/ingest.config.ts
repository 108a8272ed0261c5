import { z } from 'zod';
import { MAX_EVENTS_PER_REQUEST } from './ingest-validation.js';

const schema = z.object({
  /** `tenantA=key1,tenantB=key2`; a tenant may appear more than once (key rotation). */
  DETECTOR_INGEST_API_KEYS: z.string().default(''),
  DETECTOR_INGEST_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  /** Sustained events per second per tenant (token bucket refill rate). */
  DETECTOR_INGEST_RATE_PER_SEC: z.coerce.number().positive().default(2_000),
  /** Bucket size; at least one full batch, or a full batch could never pass. */
  DETECTOR_INGEST_BURST: z.coerce.number().int().min(MAX_EVENTS_PER_REQUEST).default(5_000),
});

export type IngestConfig = z.infer<typeof schema>;

/** Reads the ingest variables once at boot; the error lists every bad variable at once. */
export function loadIngestConfig(env: NodeJS.ProcessEnv = process.env): IngestConfig {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid detector ingest configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
