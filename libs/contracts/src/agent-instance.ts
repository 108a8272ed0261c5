import { z } from 'zod';
import { subjectToken } from './subject-token.js';

/**
 * Between the host agent (apps/agent) and the processes it runs: the messages it sends over their
 * Node IPC channel (besides the SDK's throttle limits), and how it describes an instance.
 */

/**
 * Faults an instance can be told to simulate over the agent's IPC channel (`degradeMessage`):
 * errors (share of requests answered 500), slow (every request late), leak (memory retained).
 * A program that does not read its IPC channel ignores them.
 */
export const DEGRADATIONS = ['errors', 'slow', 'leak'] as const;
export type Degradation = (typeof DEGRADATIONS)[number];

/** The agent's message to its instance over the IPC channel; null stops simulating. */
export const degradeMessage = z
  .object({
    type: z.literal('degrade'),
    degradation: z.enum(DEGRADATIONS).nullable(),
  })
  .strict();
export type DegradeMessage = z.infer<typeof degradeMessage>;

/**
 * A warm spare (started with AUTOHEAL_SPARE=1) answers HTTP but reports no health and sends no
 * synthetic traffic: it is nobody yet. The agent promotes it when it switches an instance's front
 * to it; from then on it is that instance (its /healthz and its health reports carry the name).
 */
export const promoteMessage = z.object({ type: z.literal('autoheal.promote'), instance: subjectToken });
export type PromoteMessage = z.infer<typeof promoteMessage>;

export type AgentInstanceState = 'running' | 'exited' | 'hung';

/** One instance as `agent.status` and chaos replies describe it. */
export interface AgentInstanceStatus {
  tenantId: string;
  service: string;
  instance: string;
  /** Null when no process is running. */
  pid: number | null;
  /** Where clients reach the instance: its front when it has one, else its process's port. */
  port: number;
  /** Only for an instance with a front (its service declares warmSpares): the private port of the process behind it. */
  processPort?: number;
  /** Only for an instance with a front: how many warm spares of its service are ready now. */
  sparesReady?: number;
  /** The arm its service holds now and the heals it allows (see apps/agent, *Armed switchover*), null when none. */
  armedSwitchover?: { remediationId: string; expiresAt: string; heals: ('switch' | 'restart')[] } | null;
  /** The release the instance runs (or will start on). */
  release: string;
  state: AgentInstanceState;
  /** The fault the current process was told to simulate (chaos errors|slow|leak); null when none. */
  degradation: Degradation | null;
  /** Processes started for a remediation (restart, replace, rollback). */
  restarts: number;
  lastRestartRemediationId: string | null;
  /** How the last process ended, when it has. */
  lastExit: { code: number | null; signal: string | null } | null;
}

