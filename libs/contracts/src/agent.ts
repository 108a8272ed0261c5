import { z } from 'zod';
import { subjectToken } from './subject-token.js';

/**
 * Request/reply between the executor and the agent supervising real processes.
 *
 * A request is a command signed by the executor (Ed25519 over the canonical form of every
 * field but `signature`, see @autoheal/security `signCommand`): an agent refuses one that is
 * unsigned, badly signed, expired, aimed at another target than its subject or than it runs,
 * or replayed (`command_rejected`), and does nothing for it. `keyId` and `signature` are
 * optional here only so that their absence is answered as a refusal rather than a parse error.
 *
 * The remediation id is the idempotency key: an agent asked twice for the same remediation
 * answers with the first outcome and does not restart again.
 */
export const agentRestartRequest = z
  .object({
    /** Unique per command; a retry of the same remediation is a new command. */
    commandId: z.uuid(),
    remediationId: z.uuid(),
    tenantId: subjectToken,
    service: subjectToken,
    instance: subjectToken,
    action: z.literal('restart'),
    parameters: z.record(z.string(), z.unknown()),
    issuedAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
    keyId: z.string().min(1).max(200).optional(),
    signature: z.string().min(1).max(200).optional(),
  })
  .strict();

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

export const agentRestartReply = z.discriminatedUnion('ok', [
  z
    .object({
      ok: z.literal(true),
      remediationId: z.uuid(),
      pid: z.number().int().positive(),
      restartedAt: z.iso.datetime(),
      /** True when this remediation had already been carried out and nothing was done now. */
      replayed: z.boolean(),
      ...replySignature,
    })
    .strict(),
  z
    .object({
      ok: z.literal(false),
      remediationId: z.uuid(),
      code: z.enum(['unknown_instance', 'spawn_failed', 'not_ready', 'invalid_request', 'command_rejected']),
      message: z.string(),
      ...replySignature,
    })
    .strict(),
]);

export type AgentRestartRequest = z.infer<typeof agentRestartRequest>;
export type AgentRestartReply = z.infer<typeof agentRestartReply>;
