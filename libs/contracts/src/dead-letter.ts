import { z } from 'zod';

/**
 * - `store_rejected`: the database refused the event's content for a reason a retry cannot
 *   change (a data exception or a program limit, see libs/messaging's store-errors.ts);
 * - `instance_quota`: the event would make its tenant track more instances than its quota.
 */
export const deadLetterReason = z.enum(['invalid_payload', 'max_deliver_exceeded', 'handler_rejected', 'provenance_rejected', 'store_rejected', 'instance_quota']);

/** A dead letter keeps at most this much of the original payload (the rest is cut, and the record says how much there was). */
export const DEAD_LETTER_MAX_PAYLOAD_BYTES = 16 * 1024;
/**
 * Largest dead-letter record, serialized: the stream's `max_msg_size`. A record is cut to fit
 * (payload, detail, headers), so each tenant's share of the stream is bounded by its message
 * count times this.
 */
export const DEAD_LETTER_MAX_RECORD_BYTES = 32 * 1024;

/** What the dead-letter stream keeps of a message that could not be processed. */
export const deadLetterRecord = z
  .object({
    reason: deadLetterReason,
    detail: z.string(),
    stream: z.string(),
    consumer: z.string(),
    subject: z.string(),
    streamSequence: z.number().int().nonnegative(),
    deliveries: z.number().int().nonnegative(),
    headers: z.record(z.string(), z.array(z.string())),
    /** The original payload as UTF-8 text (base64 when it was not valid UTF-8). */
    payload: z.string(),
    payloadEncoding: z.enum(['utf8', 'base64']),
    deadLetteredAt: z.iso.datetime(),
  })
  .strict();

export type DeadLetterReason = z.infer<typeof deadLetterReason>;
export type DeadLetterRecord = z.infer<typeof deadLetterRecord>;
