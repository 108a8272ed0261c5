import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { Envelope } from '@autoheal/contracts';
import { JetStreamContext, TransientError } from '@autoheal/messaging';
import type { ExecutorConfig } from '../config.js';
import { DriverError, DriverErrorCode } from '../drivers/driver.errors.js';
import { REMEDIATIONS_DURABLE } from '../executor.consumers.js';
import { EXECUTOR_CONFIG } from '../executor.tokens.js';
import { ExecutionService } from './execution.service.js';

/** JetStream entry for remediation.>: executes planned and approved remediations, acks the rest. */
@Controller()
export class RemediationEventsHandler {
  constructor(
    private readonly execution: ExecutionService,
    @Inject(EXECUTOR_CONFIG) private readonly config: ExecutorConfig,
  ) {}

  @EventPattern(REMEDIATIONS_DURABLE)
  async onRemediationEvent(@Payload() event: Envelope, @Ctx() ctx: JetStreamContext): Promise<void> {
    switch (event.type) {
      case 'remediation.planned':
      case 'remediation.approved':
        try {
          await this.execution.execute(event, { finalAttempt: ctx.deliveryCount >= this.config.EXECUTOR_MAX_DELIVER });
        } catch (error) {
          throw toTransportError(error);
        }
        return;
      default:
        // Progress and outcomes (ours and others'), plans awaiting approval, escalations: not ours to act on.
        return;
    }
  }
}

/** Every failure here is worth retrying: the driver is idempotent and the database comes back. */
function toTransportError(error: unknown): TransientError {
  if (error instanceof DriverError) {
    switch (error.code) {
      case DriverErrorCode.Unreachable:
      case DriverErrorCode.Timeout:
      case DriverErrorCode.InvalidReply:
        return new TransientError(error.code, error.message);
      default: {
        const unreachable: never = error.code;
        throw new Error(`unmapped driver error ${String(unreachable)}`);
      }
    }
  }
  return new TransientError('executor_store_unavailable', error instanceof Error ? error.message : String(error));
}
