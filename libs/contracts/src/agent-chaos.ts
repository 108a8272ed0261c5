import { z } from 'zod';
import { subjectToken } from './subject-token.js';
import { DEGRADATIONS, type AgentInstanceStatus } from './agent-instance.js';

/**
 * Breaking instances on purpose. The host agent (apps/agent) answers it when its config enables
 * chaos; the demo's chaos CLI asks. Not signed: who may send it is the bus's concern.
 */
export const AGENT_CHAOS_SUBJECT = 'agent.chaos';

/**
 * kill and hang act on the process (signals); errors, slow and leak ask the process to degrade
 * itself (IPC); resume undoes a hang and a degradation; release restarts the instance on another
 * release of its service (a bad deploy, when that release carries a fault).
 */
export const CHAOS_ACTIONS = ['kill', 'hang', 'resume', ...DEGRADATIONS, 'release'] as const;
export type ChaosAction = (typeof CHAOS_ACTIONS)[number];

export const agentChaosRequest = z
  .object({
    action: z.enum(CHAOS_ACTIONS),
    tenantId: subjectToken,
    service: subjectToken,
    instance: subjectToken,
    /** release only: the version to roll out (one the agent's config declares for the service). */
    release: z.string().min(1).max(64).optional(),
  })
  .strict()
  .superRefine((request, ctx) => {
    if (request.action === 'release' && request.release === undefined) {
      ctx.addIssue({ code: 'custom', path: ['release'], message: 'required for action release (the version to roll out)' });
    }
    if (request.action !== 'release' && request.release !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['release'], message: `only action release takes a release, not ${request.action}` });
    }
  });

export type AgentChaosRequest = z.infer<typeof agentChaosRequest>;

export type ChaosFailureCode = 'invalid_request' | 'unknown_instance' | 'not_running' | 'unknown_release' | 'not_ready';

export type AgentChaosReply =
  | { ok: true; action: ChaosAction; instance: AgentInstanceStatus }
  | { ok: false; code: ChaosFailureCode; message: string };
