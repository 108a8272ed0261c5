import type { AgentCommandReply } from '@autoheal/contracts';
import { signReply, type SigningKey } from '@autoheal/security';
import type { Clock } from '../clock.js';
import type { HandledCommand } from './command.service.js';

/**
 * Signs every command reply with the agent's own key (`agent:<agentId>` in the executor's trust
 * store): outcome, effects, remediation and command id, time and key id. The executor records
 * nothing it cannot attribute to the agent registered for the target.
 */
export class ReplySigner {
  constructor(
    private readonly key: SigningKey,
    readonly agentId: string,
    private readonly clock: Clock,
  ) {}

  sign({ outcome, commandId }: HandledCommand): AgentCommandReply {
    const content = { ...outcome, commandId, agentId: this.agentId, signedAt: this.clock.now().toISOString() };
    return signReply(this.key, content);
  }
}

