import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { Envelope, RemediationRuntime } from '@autoheal/contracts';
import { JetStreamContext, StoreFailure, TransientError } from '@autoheal/messaging';
import type { ExecutorConfig } from '../config.js';
import { DriverError, DriverErrorCode } from '../drivers/driver.errors.js';
import { REMEDIATIONS_DURABLE } from '../executor.consumers.js';
import { EXECUTOR_CONFIG } from '../executor.tokens.js';
import { ExecutionService, type ExecutionOutcome } from './execution.service.js';

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
        // A dry-run plan is recorded by the decision service and audited, never executed.
        if (event.data.dryRun === true) return;
        return this.execute(event, ctx);
      case 'remediation.approved':
        return this.execute(event, ctx);
      default:
        // Progress and outcomes (ours and others'), plans awaiting approval, escalations: not ours to act on.
        return;
    }
  }

  private async execute(event: Envelope<'remediation.planned' | 'remediation.approved'>, ctx: JetStreamContext): Promise<void> {
    let outcome: ExecutionOutcome;
    try {
      outcome = await this.execution.execute(event, {
        finalAttempt: ctx.deliveryCount >= this.config.EXECUTOR_MAX_DELIVER,
        // The lease outlasts the longest a driver call may take, with a margin.
        leaseMs: driverCallBoundMs(event.data.runtime, this.config) + 5_000,
      });
    } catch (error) {
      throw toTransportError(error);
    }
    switch (outcome.kind) {
      case 'already_finished':
      case 'finished':
      case 'finished_elsewhere':
        return;
      case 'in_progress_elsewhere':
        // Come back once the holder has finished or its lease has run out.
        throw new TransientError('execution_in_progress', `remediation ${event.data.remediationId} is being executed by another delivery`);
      default: {
        const unreachable: never = outcome;
        throw new Error(`unhandled execution outcome ${JSON.stringify(unreachable)}`);
      }
    }
  }
}

/** The longest one driver call for this runtime may take: a runbook's own timeout (callback included) may be far longer than an agent's. */
function driverCallBoundMs(runtime: RemediationRuntime | undefined, config: ExecutorConfig): number {
  switch (runtime?.kind) {
    case 'runbook':
      return Math.max(config.AGENT_TIMEOUT_MS, runtime.timeoutMs ?? config.EXECUTOR_RUNBOOK_TIMEOUT_MS);
    case 'kubernetes':
      return Math.max(config.AGENT_TIMEOUT_MS, config.EXECUTOR_KUBERNETES_TIMEOUT_MS);
    case 'agent':
    case undefined:
      return config.AGENT_TIMEOUT_MS;
    default: {
      const unreachable: never = runtime;
      throw new Error(`no time bound for runtime ${JSON.stringify(unreachable)}`);
    }
  }
}

/** Every failure here is worth retrying (the driver is idempotent, the database comes back), except content the database refuses for good. */
function toTransportError(error: unknown): TransientError | StoreFailure {
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
  return new StoreFailure('executor_store_unavailable', error);
}
