import type { RunConsumerSpec } from '@autoheal/messaging';
import type { DetectorConfig } from '../config.js';

/** Every detector's health consumer is called `detector-health-<member id>`. */
export const HEALTH_DURABLE_PREFIX = 'detector-health';

/**
 * Health events are many and cheap (tens of µs each): pulling 512 at a time keeps the detector
 * from waiting on the server between pulls, and 512 still take far less than the ack wait.
 * tools/bench/detector.bench.js measures its raw floor with the same pull size.
 */
export const HEALTH_PULL_BATCH = 512;

/**
 * Health events whose incident writes may be in flight at once. The detector applies every event
 * to its state synchronously, in stream order, as it arrives; only the commit of the incident
 * change it caused is waited for (per fingerprint in order, see IncidentWriter) before the event
 * is acknowledged. One at a time, every heartbeat and exit behind a crash waited for that crash's
 * commit: a burst of crashes queued for commits one after another.
 */
export const HEALTH_CONCURRENCY = 64;

/**
 * Each detector reads the whole health stream on a consumer of its own, named after it, and
 * applies the partitions it owns (`accept`; the rest is acknowledged unread). The consumer
 * starts at the next event stored: what came before, the detector reads while taking its
 * partitions over. One left behind by a detector that died is deleted by the server.
 */
export function healthConsumerSpec(config: DetectorConfig): RunConsumerSpec {
  return {
    stream: 'health',
    durable: `${HEALTH_DURABLE_PREFIX}-${config.DETECTOR_MEMBER_ID}`,
    // Every detector's dead letters go to `deadletter.HEALTH.detector-health.<tenant>`: a tenant's
    // share does not grow with the detectors that ever ran.
    pattern: HEALTH_DURABLE_PREFIX,
    filterSubject: 'health.>',
    pullBatch: HEALTH_PULL_BATCH,
    concurrency: HEALTH_CONCURRENCY,
    maxAckPending: 4 * HEALTH_PULL_BATCH,
    deliverPolicy: 'new',
    inactiveThresholdMs: config.DETECTOR_CONSUMER_INACTIVE_MS,
  };
}
