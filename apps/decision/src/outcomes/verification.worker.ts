import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { DecisionConfig } from '../config.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { PeriodicTask } from '../periodic-task.js';
import { DecisionRunner, type VerificationFailure } from '../planning/decision-runner.js';

export type { VerificationFailure } from '../planning/decision-runner.js';

/**
 * Fails the verification of remediations whose incident is still open at their deadline: a timer
 * that asks the DecisionRunner, one overdue row per transaction (claimed with SKIP LOCKED, so
 * every process may run the worker). What follows — a fallback or an escalation — is decided
 * there, on the one path every decision takes.
 */
@Injectable()
export class VerificationWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly task = new PeriodicTask('failing overdue verifications', () => this.tick());

  constructor(
    private readonly runner: DecisionRunner,
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
      const handled = await this.runner.run({ kind: 'verification_overdue' });
      if (!handled) break;
      done.push(handled);
    }
    return done;
  }
}
