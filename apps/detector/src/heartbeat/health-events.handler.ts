import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { Envelope } from '@autoheal/contracts';
import { JetStreamContext, TransientError } from '@autoheal/messaging';
import { DetectionService } from './detection.service.js';
import { HEALTH_EVENTS_PATTERN } from './health-consumer.js';

/** JetStream entry for health.>: the transport has validated the envelope already. */
@Controller()
export class HealthEventsHandler {
  constructor(private readonly detection: DetectionService) {}

  /** Synchronous for an event that writes nothing (see DetectionService.handle). */
  @EventPattern(HEALTH_EVENTS_PATTERN)
  onHealthEvent(@Payload() event: Envelope, @Ctx() ctx: JetStreamContext): Promise<void> | undefined {
    let pending: Promise<void> | undefined;
    try {
      pending = this.detection.handle(ctx.subject, event, ctx.streamSequence);
    } catch (error) {
      throw storeUnavailable(error);
    }
    return pending?.catch((error: unknown) => {
      throw storeUnavailable(error);
    });
  }
}

/** Whatever failed while applying a health event, the event is retried: the store may be back by then. */
function storeUnavailable(error: unknown): TransientError {
  return new TransientError('detector_store_unavailable', (error as Error).message);
}
