import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { DecisionConfig } from '../config.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { PeriodicTask } from '../periodic-task.js';
import { DecisionRunner, type Redecision } from './decision-runner.js';

export type { Redecision } from './decision-runner.js';

/**
 * Decides deferred incidents again once they are due (the cooldown ended, the recheck interval
 * passed, or a remediation on the service finished): a timer that asks the DecisionRunner, one
 * due row per transaction (claimed with SKIP LOCKED, so every process may run the worker).
 */
@Injectable()
export class DeferralsWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly task = new PeriodicTask('deciding deferred incidents again', () => this.tick());

  constructor(
    private readonly runner: DecisionRunner,
    @Inject(DECISION_CONFIG) private readonly config: DecisionConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start(this.config.DECISION_DEFER_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    this.task.stop();
  }

  /** Decides up to `limit` due deferrals again, one transaction each; returns what became of them. */
  async tick(limit = 50): Promise<Redecision[]> {
    const done: Redecision[] = [];
    while (done.length < limit) {
      const result = await this.runner.run({ kind: 'deferral_due' });
      if (!result) break;
      done.push(result);
    }
    return done;
  }
}
