import { z } from 'zod';
import { actionParameters, remediationAction } from './events/remediation.events.js';
import { subjectToken } from './subject-token.js';

/**
 * Request/reply between the executor and the agent supervising real processes: one command for
 * every remediation action, on `agent.command.<tenant>.<service>.<instance>`.
 *
 * A request is a command signed by the executor (Ed25519 over the canonical form of every
 * field but `signature`, see @autoheal/security `signCommand`): an agent refuses one that is
 * unsigned, badly signed, expired, aimed at another target than its subject or than it runs,
 * or replayed (`command_rejected`), and does nothing for it. `keyId` and `signature` are
 * optional here only so that their absence is answered as a refusal rather than a parse error.
 * `parameters` are the plan's (`actionParameters`); which ones an action needs is
 * `ACTION_PARAMETERS`, and an agent refuses a command lacking one (`invalid_parameters`).
 *
 * The remediation id is the idempotency key: an agent asked twice for the same remediation
 * answers with the first outcome (`replayed: true`) and does not act again.
 */
export const agentCommandRequest = z
  .object({
    /** Unique per command; a retry of the same remediation is a new command. */
    commandId: z.uuid(),
    remediationId: z.uuid(),
    tenantId: subjectToken,
    service: subjectToken,
    instance: subjectToken,
    action: remediationAction,
    parameters: actionParameters,
    issuedAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
    keyId: z.string().min(1).max(200).optional(),
    signature: z.string().min(1).max(200).optional(),
  })
  .strict();

/**
 * One change the agent made, in the executor drivers' vocabulary (verb + object + detail):
 * `object` is the instance acted on (`patient-api-1`); `detail` says how (pid, port, release,
 * limit). A replace, for one, is `started <instance>` (the new process) then `stopped <instance>`
 * (the old one).
 */
export const agentEffect = z
  .object({
    verb: z.enum(['restarted', 'started', 'stopped', 'scaled', 'rolled_back', 'promoted', 'routed', 'throttled', 'called', 'armed']),
    object: subjectToken,
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/**
 * Why an agent did not carry a command out; nothing was changed for any of them except
 * `spawn_failed` and `not_ready` (a restart or rollback that killed the old process first).
 * - `unknown_instance`: the agent does not run the target;
 * - `unsupported_action`: the agent cannot do this action (a failover on an instance's command subject, throttle on a service without IPC);
 * - `invalid_parameters`: a parameter is missing or names what the agent does not have (a release);
 * - `at_capacity`: scale_out when the service already runs `maxInstances`;
 * - `spawn_failed`, `not_ready`: a new process did not start, or did not answer in time;
 * - `not_acknowledged`: throttle, the instance did not acknowledge the limit in time or refused it;
 * - `invalid_request`: the body fails this schema;
 * - `traffic_not_moved`: failover, the standby is up but the configured traffic move failed;
 * - `command_rejected`: not the executor's, altered, stale, misdirected (another region's failover included) or replayed.
 */
export const agentCommandFailureCode = z.enum([
  'unknown_instance',
  'unsupported_action',
  'invalid_parameters',
  'at_capacity',
  'spawn_failed',
  'not_ready',
  'not_acknowledged',
  'traffic_not_moved',
  'invalid_request',
  'command_rejected',
]);

/**
 * Every reply is signed by the agent (`agent:<agentId>` in the trust store) over every field
 * but `signature`; the executor counts nothing it cannot attribute to the agent registered
 * for the target. `commandId` is null only when the request was too broken to carry one.
 */
const replySignature = {
  commandId: z.uuid().nullable(),
  agentId: z.string().min(1).max(64),
  signedAt: z.iso.datetime(),
  keyId: z.string().min(1).max(200),
  signature: z.string().min(1).max(200),
};

const commandSucceeded = z
  .object({
    ok: z.literal(true),
    remediationId: z.uuid(),
    action: remediationAction,
    /**
     * Every change made, in order; a replayed reply carries the first time's. Empty only for a
     * scale_in that found nothing above its floor to stop.
     */
    effects: z.array(agentEffect),
    completedAt: z.iso.datetime(),
    /** True when this remediation had already been carried out and nothing was done now. */
    replayed: z.boolean(),
  })
  .strict();

const commandFailed = z.object({ ok: z.literal(false), remediationId: z.uuid(), code: agentCommandFailureCode, message: z.string() }).strict();

/** What a command came to, before the agent signs it into a reply (and what it remembers per remediation). */
export const agentCommandOutcome = z.discriminatedUnion('ok', [commandSucceeded, commandFailed]);

export const agentCommandReply = z.discriminatedUnion('ok', [commandSucceeded.extend(replySignature).strict(), commandFailed.extend(replySignature).strict()]);

export type AgentCommandRequest = z.infer<typeof agentCommandRequest>;
export type AgentCommandReply = z.infer<typeof agentCommandReply>;
export type AgentCommandOutcome = z.infer<typeof agentCommandOutcome>;
export type AgentEffect = z.infer<typeof agentEffect>;
export type AgentCommandFailureCode = z.infer<typeof agentCommandFailureCode>;
