import type { RunConsumerSpec } from '@autoheal/messaging';
import type { ExecutorConfig } from './config.js';

export const REMEDIATIONS_DURABLE = 'executor-remediations';

/**
 * Remediations to carry out. The ack deadline outlasts two agent timeouts, so a message is
 * not redelivered to another executor while this one still waits for the agent.
 */
export function remediationsConsumer(config: ExecutorConfig): RunConsumerSpec & { maxDeliver: number } {
  return {
    stream: 'remediations',
    durable: REMEDIATIONS_DURABLE,
    filterSubject: 'remediation.>',
    maxDeliver: config.EXECUTOR_MAX_DELIVER,
    ackWaitMs: Math.max(30_000, config.AGENT_TIMEOUT_MS * 2),
  };
}
