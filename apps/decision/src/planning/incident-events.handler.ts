import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { Envelope } from '@autoheal/contracts';
import { JetStreamContext, StoreFailure } from '@autoheal/messaging';
import { INCIDENTS_CONSUMER } from '../decision.consumers.js';
import { PlanningService } from './planning.service.js';

/** JetStream entry for incident.>: the transport has validated the envelope already. */
@Controller()
export class IncidentEventsHandler {
  constructor(private readonly planning: PlanningService) {}

  @EventPattern(INCIDENTS_CONSUMER.durable)
  async onIncidentEvent(@Payload() event: Envelope, @Ctx() _ctx: JetStreamContext): Promise<void> {
    try {
      switch (event.type) {
        case 'incident.opened':
          await this.planning.onIncidentOpened(event);
          return;
        case 'incident.resolved':
          return await this.planning.onIncidentResolved(event);
        case 'incident.updated':
          return await this.planning.onIncidentUpdated(event);
        default:
          // Only incident.* reaches this consumer.
          return;
      }
    } catch (error) {
      // The policy is pure; what fails here is the database. Retry later (dead-lettered past MaxDeliver),
      // unless the database refused the content itself: dead-lettered at once.
      throw new StoreFailure('decision_store_unavailable', error);
    }
  }
}
