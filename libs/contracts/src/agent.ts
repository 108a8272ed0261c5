import { z } from 'zod';
import { subjectToken } from './subject-token.js';

/**
 * Request/reply between the executor and the agent supervising real processes. The
 * remediation id is the idempotency key: an agent asked twice for the same remediation
 * answers with the first outcome and does not restart again.
 */
export const agentRestartRequest = z
  .object({
    remediationId: z.uuid(),
    tenantId: subjectToken,
    service: subjectToken,
    instance: subjectToken,
  })
  .strict();

export const agentRestartReply = z.discriminatedUnion('ok', [
  z
    .object({
      ok: z.literal(true),
      remediationId: z.uuid(),
      pid: z.number().int().positive(),
      restartedAt: z.iso.datetime(),
      /** True when this remediation had already been carried out and nothing was done now. */
      replayed: z.boolean(),
    })
    .strict(),
  z
    .object({
      ok: z.literal(false),
      remediationId: z.uuid(),
      code: z.enum(['unknown_instance', 'spawn_failed', 'not_ready', 'invalid_request']),
      message: z.string(),
    })
    .strict(),
]);

export type AgentRestartRequest = z.infer<typeof agentRestartRequest>;
export type AgentRestartReply = z.infer<typeof agentRestartReply>;
