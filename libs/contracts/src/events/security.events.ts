import { z } from 'zod';

/** Why a control event was refused (see @autoheal/security's verifyEventProvenance). */
export const eventRejectionReason = z.enum(['unsigned', 'unknown_key', 'key_not_yet_valid', 'key_expired', 'bad_signature', 'not_entitled', 'producer_mismatch']);

/**
 * A control event was refused because its provenance could not be established. Raised (signed)
 * by the service that caught it; the tenant is the subject's, since the envelope is not
 * trusted. Names what was refused and why, never the payload itself (it may carry secrets;
 * the dead-letter stream keeps it for whoever may read that).
 */
export const securityEventRejectedData = z
  .object({
    reason: eventRejectionReason,
    detail: z.string().max(1_000),
    /** The subject it arrived on. */
    subject: z.string().min(1).max(300),
    /** What the envelope claimed, as claimed. */
    eventId: z.string().max(200).nullable(),
    eventType: z.string().max(200).nullable(),
    claimedProducer: z.string().max(200).nullable(),
    keyId: z.string().max(200).nullable(),
    /** The consumer that refused it, e.g. `executor-remediations`. */
    rejectedBy: z.string().min(1).max(200),
    stream: z.string().min(1).max(100),
    streamSequence: z.number().int().nonnegative(),
  })
  .strict();

/** Why an agent's reply to a command was not attributed to the agent that runs the target. */
export const replyRejectionReason = z.enum(['unsigned', 'unknown_key', 'key_not_yet_valid', 'key_expired', 'bad_signature', 'wrong_agent', 'mismatched_reply', 'invalid_reply']);

/** The executor got an answer to a command it cannot attribute; the remediation was recorded failed, never succeeded. */
export const securityReplyRejectedData = z
  .object({
    reason: replyRejectionReason,
    detail: z.string().max(1_000),
    remediationId: z.uuid(),
    commandId: z.uuid(),
    service: z.string().min(1).max(200),
    instance: z.string().min(1).max(200),
    /** The identity whose key should have signed it, e.g. `agent:demo-fleet`. */
    expectedSigner: z.string().min(1).max(200),
    keyId: z.string().max(200).nullable(),
  })
  .strict();

/**
 * Requests to a service's API refused (401/403), aggregated: one event per origin and reason per
 * window, with the count, so a flood costs one event, never one per request. Bound for the system
 * trail (its tenant is SYSTEM_TENANT_ID): the tenant a refused request names is the caller's claim.
 */
export const securityAccessRefusedData = z
  .object({
    /** The API that refused them, e.g. `decision admin API`. */
    api: z.string().min(1).max(100),
    /** The credential id when one was presented and known, else `address <remote address>`. */
    origin: z.string().min(1).max(300),
    /** Why, e.g. `invalid_credential`, `tenant_forbidden`. */
    code: z.string().min(1).max(100),
    status: z.union([z.literal(401), z.literal(403)]),
    count: z.number().int().positive(),
    firstAt: z.iso.datetime(),
    lastAt: z.iso.datetime(),
    windowStart: z.iso.datetime(),
  })
  .strict();
