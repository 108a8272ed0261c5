import type { EventHandler } from '@autoheal/messaging';
import { TransientError } from '@autoheal/messaging';
import type { DetectionService } from './detection.service.js';

/**
 * The detector's entry for health.>: the consumer has validated the envelope already. Bound to
 * the consumer directly rather than through an `@EventPattern` (see `TransportConsumerSpec.direct`
 * in @autoheal/messaging): tens of thousands of events a second, none of which needs Nest's
 * guards, pipes or interceptors. Synchronous for an event that writes nothing
 * (DetectionService.handle); a failure is transient, the event is retried.
 */
export function healthEventHandler(detection: DetectionService): EventHandler {
  return (event, ctx) => {
    let pending: Promise<void> | undefined;
    try {
      pending = detection.handle(ctx.subject, event, ctx.streamSequence);
    } catch (error) {
      throw storeUnavailable(error);
    }
    return pending?.catch((error: unknown) => {
      throw storeUnavailable(error);
    });
  };
}

/** Whatever failed while applying a health event, the event is retried: the store may be back by then. */
function storeUnavailable(error: unknown): TransientError {
  return new TransientError('detector_store_unavailable', (error as Error).message);
}
