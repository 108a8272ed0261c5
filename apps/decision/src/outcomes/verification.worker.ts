import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { createLogger } from '@autoheal/telemetry';
import { OutboxPublisher } from '@autoheal/messaging';
import { CLOCK, type Clock } from '../clock.js';
import type { DecisionConfig } from '../config.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { PeriodicTask } from '../periodic-task.js';
import { remediationsRepository } from '../planning/remediations.repository.js';
import { OutcomesService, type OutcomeResult } from './outcomes.service.js';

const log = createLogger('decision');

export interface VerificationFailure {
  remediationId: string;
  incidentId: string;
  result: OutcomeResult;
}

/**
 * Fails the verification of remediations whose incident is still open at their deadline. Each
 * due row is claimed with SKIP LOCKED and handled in its own transaction, so every process may
 * run the worker; what follows (a fallback or an escalation) is decided there under the same
 * locks as any other decision, and announced through the outbox in the same transaction.
 */
@Injectable()
export class VerificationWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly task = new PeriodicTask('failing overdue verifications', () => this.tick());

  constructor(
    private readonly outbox: OutboxPublisher,
    private readonly outcomes: OutcomesService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DECISION_CONFIG) private readonly config: DecisionConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start(this.config.DECISION_VERIFY_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    this.task.stop();
  }

  /** Handles up to `limit` overdue verifications, one transaction each. */
  async tick(limit = 50): Promise<VerificationFailure[]> {
    const done: VerificationFailure[] = [];
    while (done.length < limit) {
      const handled = await this.outbox.transaction(async (m): Promise<VerificationFailure | null> => {
        const row = await remediationsRepository.claimDueVerification(m, this.clock.now());
        if (!row) return null;
        return { remediationId: row.remediationId, incidentId: row.incidentId, result: await this.outcomes.failVerification(m, row) };
      });
      if (!handled) break;
      done.push(handled);
      log.warn(handled, 'remediation not verified by its deadline: the incident is still open');
    }
    return done;
  }
}
