import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { Envelope } from '@autoheal/contracts';
import { JetStreamContext, StoreFailure } from '@autoheal/messaging';
import { OUTCOMES_CONSUMER } from '../decision.consumers.js';
import { OutcomesService } from './outcomes.service.js';

/** JetStream entry for remediation.>: only outcomes matter here, the rest is acknowledged. */
@Controller()
export class OutcomeEventsHandler {
  constructor(private readonly outcomes: OutcomesService) {}

  @EventPattern(OUTCOMES_CONSUMER.durable)
  async onRemediationEvent(@Payload() event: Envelope, @Ctx() _ctx: JetStreamContext): Promise<void> {
    try {
      switch (event.type) {
        case 'remediation.succeeded':
          await this.outcomes.onSucceeded(event);
          return;
        case 'remediation.failed':
          await this.outcomes.onFailed(event);
          return;
        default:
          // Our own plans and escalations, and the executor's progress: nothing to decide.
          return;
      }
    } catch (error) {
      throw new StoreFailure('decision_store_unavailable', error);
    }
  }
}
