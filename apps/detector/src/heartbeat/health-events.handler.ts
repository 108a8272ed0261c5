import { PermanentError, StoreFailure, type EventHandler } from '@autoheal/messaging';
import type { DetectionService } from './detection.service.js';
import { InstanceQuotaExceeded } from './instance-quota.js';

/**
 * The detector's entry for health.>: the consumer has validated the envelope already. Bound to
 * the consumer directly rather than through an `@EventPattern` (see `TransportConsumerSpec.direct`
 * in @autoheal/messaging): tens of thousands of events a second, none of which needs Nest's
 * guards, pipes or interceptors. Synchronous for an event that writes nothing
 * (DetectionService.handle). An event over its tenant's instance quota is dead-lettered at once
 * (`instance_quota`); a store failure is retried unless the database refused the content itself.
 */
export function healthEventHandler(detection: DetectionService): EventHandler {
  return (event, ctx) => {
    let pending: Promise<void> | undefined;
    try {
      pending = detection.handle(ctx.subject, event, ctx.streamSequence);
    } catch (error) {
      throw deliveryError(error);
    }
    return pending?.catch((error: unknown) => {
      throw deliveryError(error);
    });
  };
}

function deliveryError(error: unknown): PermanentError | StoreFailure {
  if (error instanceof InstanceQuotaExceeded) return new PermanentError('instance_quota_exceeded', error.message, 'instance_quota');
  // Retried (the store may be back by then), unless its SQLSTATE says the content can never be stored.
  return new StoreFailure('detector_store_unavailable', error);
}
