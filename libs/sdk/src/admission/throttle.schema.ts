import { z } from 'zod';

/**
 * The `throttle` remediation as the SDK accepts it, and the IPC messages a supervisor (the host
 * agent) sends to deliver it. Kept here, not in @autoheal/contracts, because it is a contract
 * between the SDK and whoever spawned the instance, not an event on the bus; the agent imports it
 * from @autoheal/sdk.
 */

/** Longest a throttle may last: a forgotten throttle must not shed a tenant's traffic for days. */
export const MAX_THROTTLE_DURATION_MS = 24 * 60 * 60 * 1000;
/** Upper bounds that keep a hostile or mistyped command from meaning something absurd. */
export const MAX_LIMIT_PER_SECOND = 1_000_000;
export const MAX_BURST = 1_000_000;

/** The remediation that asked for a throttle: echoed in every shed response and in acknowledgements. */
export const remediationIdSchema = z.uuid();

const throttleFields = {
  remediationId: remediationIdSchema,
  /** Sustained requests per second admitted (tokens added per second); may be fractional (0.5 = one every 2 s). */
  limitPerSecond: z.number().positive().max(MAX_LIMIT_PER_SECOND),
  /** Requests admitted at once (bucket size); default max(1, ceil(limitPerSecond)), one second's worth. */
  burst: z.number().int().min(1).max(MAX_BURST).optional(),
  /** RFC 3339 in UTC. Must be in the future and at most 24 h ahead (checked against the gate's clock). */
  expiresAt: z.iso.datetime(),
};

/** A throttle for `AdmissionGate.setThrottle` (unknown fields are refused, so a misspelt one is not ignored). */
export const throttleSettings = z.object(throttleFields).strict();

/** Supervisor → instance: shed load above `limitPerSecond` until `expiresAt`. Replaces any active throttle. */
export const supervisorThrottleMessage = z
  .object({ type: z.literal('autoheal.throttle'), ...throttleFields })
  .strict();

/** Supervisor → instance: lift the throttle this remediation set (a throttle set by another remediation stays). */
export const supervisorThrottleClearMessage = z
  .object({ type: z.literal('autoheal.throttle.clear'), remediationId: remediationIdSchema })
  .strict();

export const supervisorCommand = z.discriminatedUnion('type', [supervisorThrottleMessage, supervisorThrottleClearMessage]);

/** The message types `acceptSupervisorCommands` answers; every other IPC message is left to the application. */
export const SUPERVISOR_COMMAND_TYPES: readonly string[] = ['autoheal.throttle', 'autoheal.throttle.clear'];

/**
 * Instance → supervisor, one per command. `appliedUntil` is the expiry now in force for this
 * remediation, or null after a clear. `remediationId` is null only when the command did not carry
 * a valid one. `error` is `<field>: <message>` (several joined by `; `).
 */
export const supervisorThrottleAck = z.discriminatedUnion('ok', [
  z
    .object({
      type: z.literal('autoheal.throttle.ack'),
      remediationId: remediationIdSchema,
      ok: z.literal(true),
      appliedUntil: z.iso.datetime().nullable(),
    })
    .strict(),
  z
    .object({
      type: z.literal('autoheal.throttle.ack'),
      remediationId: remediationIdSchema.nullable(),
      ok: z.literal(false),
      error: z.string(),
    })
    .strict(),
]);

export type ThrottleSettings = z.infer<typeof throttleSettings>;
export type SupervisorThrottleMessage = z.infer<typeof supervisorThrottleMessage>;
export type SupervisorThrottleClearMessage = z.infer<typeof supervisorThrottleClearMessage>;
export type SupervisorCommand = z.infer<typeof supervisorCommand>;
export type SupervisorThrottleAck = z.infer<typeof supervisorThrottleAck>;

export interface FieldIssue {
  /** Dotted path of the offending field; for unknown fields, their names. */
  field: string;
  message: string;
}

/** zod's issues as `field: message` pairs that name the field a person has to fix. */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return { field: issue.keys.join(', '), message: 'unknown field, not allowed' };
    return { field: issue.path.length ? issue.path.map(String).join('.') : '(message)', message: issue.message };
  });
}
