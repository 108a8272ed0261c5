import type { AgentRestartReply } from '@autoheal/contracts';
import { signReply, type SigningKey } from '@autoheal/security';
import type { Clock } from '../clock.js';
import type { HandledRestart } from './restart.service.js';

/**
 * Signs every restart reply with the agent's own key (`agent:<agentId>` in the executor's trust
 * store): outcome, pid, remediation and command id, time and key id. The executor records
 * nothing it cannot attribute to the agent registered for the target.
 */
export class ReplySigner {
  constructor(
    private readonly key: SigningKey,
    readonly agentId: string,
    private readonly clock: Clock,
  ) {}

  sign({ outcome, commandId }: HandledRestart): AgentRestartReply {
    const content = { ...outcome, commandId, agentId: this.agentId, signedAt: this.clock.now().toISOString() };
    return signReply(this.key, content);
  }
}

