import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { Envelope } from '@autoheal/contracts';
import { JetStreamContext, TransientError, type RunConsumerSpec } from '@autoheal/messaging';
import { DetectionService } from './detection.service.js';

export const HEALTH_CONSUMER = { stream: 'health', durable: 'detector-health', filterSubject: 'health.>' } satisfies RunConsumerSpec;

/** JetStream entry for health.>: the transport has validated the envelope already. */
@Controller()
export class HealthEventsHandler {
  constructor(private readonly detection: DetectionService) {}

  @EventPattern(HEALTH_CONSUMER.durable)
  async onHealthEvent(@Payload() event: Envelope, @Ctx() _ctx: JetStreamContext): Promise<void> {
    try {
      switch (event.type) {
        case 'health.heartbeat':
          return await this.detection.onHeartbeat(event);
        case 'health.stopping':
          return await this.detection.onStopping(event);
        case 'health.metrics':
          return await this.detection.onMetrics(event);
        case 'health.exited':
          return await this.detection.onExited(event);
        case 'health.alert':
          return await this.detection.onAlert(event);
        default:
          // Only health.* is routed here; anything else is acknowledged and ignored.
          return;
      }
    } catch (error) {
      throw new TransientError('detector_store_unavailable', (error as Error).message);
    }
  }
}
