import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { OutboxPublisher } from '@autoheal/messaging';
import { appendToOutbox } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import { CLOCK, type Clock } from '../clock.js';
import { EXECUTOR_SCHEMA } from '../data-source.js';
import { DriverError } from '../drivers/driver.errors.js';
import { driverFor, performChecked, REMEDIATION_DRIVERS, type DriverCommand, type DriverResult, type RemediationDriver } from '../drivers/remediation-driver.js';
import { executorMetrics } from '../executor.metrics.js';
import { outcomeEvent, replyRejectedEvent, startedEvent, type ExecutableEvent } from './execution-events.js';
import { executionsRepository } from './executions.repository.js';

const log = createLogger('executor');

export type FinalStatus = 'succeeded' | 'failed';

export type ExecutionOutcome =
  /** A final status was already recorded: a redelivery, nothing to do. */
  | { kind: 'already_finished'; status: FinalStatus }
  | { kind: 'finished'; status: FinalStatus; attempts: number }
  /** Another delivery of the same remediation recorded the outcome while this one waited. */
  | { kind: 'finished_elsewhere' }
  /** Another delivery holds the lease and is asking the driver right now: try again later. */
  | { kind: 'in_progress_elsewhere' };

export interface ExecuteOptions {
  /** The last delivery the stream will make: report an unreachable driver as a failure instead of retrying. */
  finalAttempt: boolean;
  /** How long one attempt may hold the execution: longer than a driver call may take. */
  leaseMs: number;
}

/**
 * Carries a remediation out at most once per remediation id:
 *   1. claim the execution (insert-if-absent) and, the first time, queue remediation.started;
 *   2. stop if it already has a final status;
 *   3. ask the driver — idempotent by remediation id, so asking again after a crash replays
 *      the first outcome instead of acting twice;
 *   4. record the final status and queue remediation.succeeded / remediation.failed.
 * Steps 1 and 4 are each one transaction with their events (outbox). A driver that gives no
 * answer throws DriverError: the row stays `started` and the message is retried.
 */
@Injectable()
export class ExecutionService {
  constructor(
    private readonly db: DataSource,
    @Inject(REMEDIATION_DRIVERS) private readonly drivers: readonly RemediationDriver[],
    @Inject(CLOCK) private readonly clock: Clock,
    // Its transactions publish their events right after commit instead of through the relay.
    private readonly outbox: OutboxPublisher,
  ) {}

  async execute(event: ExecutableEvent, options: ExecuteOptions): Promise<ExecutionOutcome> {
    const { remediationId, incidentId, service, instance, action } = event.data;
    const target = { tenantId: event.tenantId, service, instance };
    // A plan made before runtimes were declared names none: those ran on the agent.
    const command: DriverCommand = { ...target, remediationId, action, parameters: event.data.parameters ?? {}, runtime: event.data.runtime ?? { kind: 'agent' } };
    const driver = driverFor(this.drivers, command.runtime.kind);
    const driverName = driver?.name ?? `none:${command.runtime.kind}`;

    const attempt = await this.outbox.transaction(async (m) => {
      const now = this.clock.now();
      const claimed = await executionsRepository.claim(m, { remediationId, incidentId, ...target, action, driver: driverName, startedAt: now });
      if (claimed) await appendToOutbox(m, EXECUTOR_SCHEMA, [startedEvent(event, driverName, now)]);
      return executionsRepository.beginAttempt(m, remediationId, now, new Date(now.getTime() + options.leaseMs));
    });
    if (!attempt) {
      // No lease: the row has a final status, or another delivery is asking the driver now.
      const row = await executionsRepository.find(this.db.manager, remediationId);
      if (!row) throw new Error(`execution ${remediationId} vanished after its claim`);
      if (row.status === 'started') return { kind: 'in_progress_elsewhere' };
      return { kind: 'already_finished', status: row.status };
    }

    let result: DriverResult;
    try {
      result = await performChecked(driver, command);
      executorMetrics.driverCalls.inc({ driver: driverName, result: result.ok ? 'ok' : 'failed' });
    } catch (error) {
      if (!(error instanceof DriverError)) throw error;
      executorMetrics.driverCalls.inc({ driver: driverName, result: error.code });
      log.warn({ remediationId, attempt: attempt.attempts, code: error.code, err: error.message, finalAttempt: options.finalAttempt }, 'driver gave no answer');
      if (!options.finalAttempt) {
        await executionsRepository.releaseLease(this.db.manager, remediationId);
        throw error;
      }
      // Out of deliveries: a human must look, so say it failed rather than leave it started forever.
      result = { ok: false, error: { code: error.code, message: `no answer after ${attempt.attempts} attempts: ${error.message}` } };
    }

    const status: FinalStatus = result.ok ? 'succeeded' : 'failed';
    const finished = await this.outbox.transaction(async (m) => {
      const now = this.clock.now();
      const row = await executionsRepository.finish(m, remediationId, {
        status,
        finishedAt: now,
        result: result.ok ? { details: result.details } : { error: result.error },
      });
      if (row) {
        const unattributed = result.ok ? undefined : result.unattributed;
        await appendToOutbox(m, EXECUTOR_SCHEMA, [outcomeEvent(event, row, result, now), ...(unattributed ? [replyRejectedEvent(event, unattributed, now)] : [])]);
      }
      return row;
    });
    if (!finished) return { kind: 'finished_elsewhere' };

    executorMetrics.executions.inc({ action, status });
    if (finished.finishedAt) {
      executorMetrics.duration.observe({ action }, (finished.finishedAt.getTime() - finished.startedAt.getTime()) / 1000);
      // From the plan (or the approval) that asked for it: the pipeline's plan → executed stage, queueing included.
      executorMetrics.planToExecuted.observe({ action, status }, Math.max(0, finished.finishedAt.getTime() - Date.parse(event.occurredAt)) / 1000);
    }
    log.info({ remediationId, incidentId, tenantId: event.tenantId, instance, status, attempts: finished.attempts }, 'remediation executed');
    return { kind: 'finished', status, attempts: finished.attempts };
  }
}
