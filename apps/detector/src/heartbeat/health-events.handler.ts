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

  @EventPattern(HEALTH_EVENTS_PATTERN)
  async onHealthEvent(@Payload() event: Envelope, @Ctx() ctx: JetStreamContext): Promise<void> {
    try {
      await this.detection.handle(ctx.subject, event, ctx.streamSequence);
    } catch (error) {
      throw new TransientError('detector_store_unavailable', (error as Error).message);
    }
  }
}
