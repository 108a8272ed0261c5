import type { RunConsumerSpec } from '@autoheal/messaging';
import type { ExecutorConfig } from './config.js';

export const REMEDIATIONS_DURABLE = 'executor-remediations';

/**
 * Remediations to carry out. Several at once: each targets its own instance and waiting for
 * an agent must not hold up the rest. A message stays ours while we wait for the agent (the
 * transport sends in-progress acks), and comes back within the ack wait if we die.
 */
export function remediationsConsumer(config: ExecutorConfig): RunConsumerSpec & { maxDeliver: number } {
  return {
    stream: 'remediations',
    durable: REMEDIATIONS_DURABLE,
    filterSubject: 'remediation.>',
    maxDeliver: config.EXECUTOR_MAX_DELIVER,
    concurrency: 16,
  };
}
