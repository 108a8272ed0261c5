import { z } from 'zod';
import { DEAD_LETTER_MAX_PAYLOAD_BYTES } from '@autoheal/contracts';
import { MAX_EVENTS_PER_REQUEST } from './ingest-validation.js';

const MIB = 1024 * 1024;

const schema = z
  .object({
    /** `tenantA=key1,tenantB=key2`; a tenant may appear more than once (key rotation). */
    DETECTOR_INGEST_API_KEYS: z.string().default(''),
    DETECTOR_INGEST_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(64 * MIB).default(MIB),
    /** Deepest nesting of objects and arrays a body may have; checked before it is parsed. */
    DETECTOR_INGEST_MAX_DEPTH: z.coerce.number().int().min(4).max(256).default(32),
    /**
     * Requests per second per tenant, valid or not (token bucket rate), and the bucket size. A
     * request costs the detector about 3 ms of CPU before its events (HTTP, routing, the answer;
     * tools/bench/ingest-cost.bench.js): 20 a second is 6% of a core for one tenant.
     */
    DETECTOR_INGEST_REQUESTS_PER_SEC: z.coerce.number().positive().default(20),
    DETECTOR_INGEST_REQUEST_BURST: z.coerce.number().int().min(1).default(100),
    /**
     * Body bytes per second per tenant, valid or not, and the bucket size (at least one largest
     * body). A heartbeat is about 290 bytes: the events budget below takes about 75 KB a second,
     * so 512 KiB leaves room for larger events and Alertmanager payloads. The former 2 MiB let
     * one tenant make the detector read and refuse 60 MiB of garbage in 30 s, each large body a
     * stretch of the event loop that another tenant's request could land behind.
     */
    DETECTOR_INGEST_BYTES_PER_SEC: z.coerce.number().int().positive().default(MIB / 2),
    DETECTOR_INGEST_BYTE_BURST: z.coerce.number().int().positive().default(MIB),
    /** The dead-letter copy of a refused body keeps at most this many bytes of it (no more than any dead letter keeps). */
    DETECTOR_INGEST_DEAD_LETTER_MAX_BYTES: z.coerce.number().int().min(256).max(DEAD_LETTER_MAX_PAYLOAD_BYTES).default(DEAD_LETTER_MAX_PAYLOAD_BYTES),
    /**
     * Sustained events per second per tenant (token bucket refill rate). An accepted event costs
     * the detector about 0.4 ms of CPU, validated, published and consumed (ingest-cost bench):
     * 250 a second is a tenth of a core, where 2,000 took most of one and starved the others.
     * A producer with more to send publishes over NATS, or the detector is sized and this raised.
     */
    DETECTOR_INGEST_RATE_PER_SEC: z.coerce.number().positive().default(250),
    /** Bucket size; at least one full batch, or a full batch could never pass. */
    DETECTOR_INGEST_BURST: z.coerce.number().int().min(MAX_EVENTS_PER_REQUEST).default(1_000),
  })
  .refine((c) => c.DETECTOR_INGEST_BYTE_BURST >= c.DETECTOR_INGEST_MAX_BODY_BYTES, {
    path: ['DETECTOR_INGEST_BYTE_BURST'],
    message: 'must be at least DETECTOR_INGEST_MAX_BODY_BYTES, or the largest allowed body could never pass',
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
