import type { RunConsumerSpec } from '@autoheal/messaging';
import type { DetectorConfig } from '../config.js';

/** The pattern the health events handler is registered under, whatever this detector's consumer is called. */
export const HEALTH_EVENTS_PATTERN = 'detector-health';

/**
 * Each detector reads the whole health stream on a consumer of its own, named after it, and
 * applies the partitions it owns (`accept`; the rest is acknowledged unread). The consumer
 * starts at the next event stored: what came before, the detector reads while taking its
 * partitions over. One left behind by a detector that died is deleted by the server.
 */
export function healthConsumerSpec(config: DetectorConfig, accept?: (subject: string) => boolean): RunConsumerSpec {
  return {
    stream: 'health',
    durable: `${HEALTH_EVENTS_PATTERN}-${config.DETECTOR_MEMBER_ID}`,
    pattern: HEALTH_EVENTS_PATTERN,
    filterSubject: 'health.>',
    deliverPolicy: 'new',
    inactiveThresholdMs: config.DETECTOR_CONSUMER_INACTIVE_MS,
    ...(accept ? { accept } : {}),
  };
}
