import { z } from 'zod';

export const deadLetterReason = z.enum(['invalid_payload', 'max_deliver_exceeded', 'handler_rejected', 'provenance_rejected']);

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
