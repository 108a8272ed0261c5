import { z } from 'zod';

/**
 * The limit a supervisor (the agent) hands an instance over its Node IPC channel, and the
 * instance's answer. This is the shape @autoheal/sdk's `acceptSupervisorCommands(gate)` takes
 * and answers: it is defined here, not imported, while that SDK function is being written; when
 * it lands, the api-server hands it an AdmissionGate instead of ThrottleGate below and these two
 * schemas become the SDK's.
 */
export const throttleMessage = z
  .object({
    type: z.literal('autoheal.throttle'),
    remediationId: z.uuid(),
    /** Requests per second still admitted. */
    limitPerSecond: z.number().positive(),
    /** Requests admitted at once after a quiet spell (default: one second's worth). */
    burst: z.number().positive().optional(),
    /** The limit ends here (RFC 3339). */
    expiresAt: z.iso.datetime(),
  })
  .strict();

export const throttleAck = z.discriminatedUnion('ok', [
  z.object({ type: z.literal('autoheal.throttle.ack'), remediationId: z.uuid(), ok: z.literal(true), appliedUntil: z.iso.datetime() }).strict(),
  z.object({ type: z.literal('autoheal.throttle.ack'), remediationId: z.uuid(), ok: z.literal(false), error: z.string() }).strict(),
]);

export type ThrottleMessage = z.infer<typeof throttleMessage>;
export type ThrottleAck = z.infer<typeof throttleAck>;

/**
 * A token bucket that holds until the limit expires: `admit` says whether one more request may
 * be served now. Plain state over an injected time, so it is tested without a clock.
 */
export class ThrottleGate {
  private limit: { perSecond: number; burst: number; until: number } | null = null;
  private tokens = 0;
  private refilledAt = 0;

  /** Applies (or replaces) the limit; the bucket starts full. Returns the ack to send back. */
  apply(message: ThrottleMessage, nowMs: number): ThrottleAck {
    const until = Date.parse(message.expiresAt);
    if (until <= nowMs) return { type: 'autoheal.throttle.ack', remediationId: message.remediationId, ok: false, error: `expiresAt ${message.expiresAt} has passed` };
    const burst = message.burst ?? Math.max(1, message.limitPerSecond);
    this.limit = { perSecond: message.limitPerSecond, burst, until };
    this.tokens = burst;
    this.refilledAt = nowMs;
    return { type: 'autoheal.throttle.ack', remediationId: message.remediationId, ok: true, appliedUntil: new Date(until).toISOString() };
  }

  admit(nowMs: number): boolean {
    const limit = this.limit;
    if (!limit) return true;
    if (nowMs >= limit.until) {
      this.limit = null;
      return true;
    }
    this.tokens = Math.min(limit.burst, this.tokens + ((nowMs - this.refilledAt) / 1000) * limit.perSecond);
    this.refilledAt = nowMs;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
