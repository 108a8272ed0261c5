import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { DecisionConfig } from '../config.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { PeriodicTask } from '../periodic-task.js';
import { DecisionRunner, type ScaleInOutcome } from '../planning/decision-runner.js';

/**
 * Judges the scale-ins of verified scale_outs once they are due: a timer that asks the
 * DecisionRunner, one due row per transaction (claimed with SKIP LOCKED, so every process may run
 * the worker). The due time lives in the row, so a restart loses nothing.
 */
@Injectable()
export class ScaleInWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly task = new PeriodicTask('judging due scale-ins', () => this.tick());

  constructor(
    private readonly runner: DecisionRunner,
    @Inject(DECISION_CONFIG) private readonly config: DecisionConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start(this.config.DECISION_SCALE_IN_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    this.task.stop();
  }

  /** Judges up to `limit` due scale-ins, one transaction each; returns what became of them. */
  async tick(limit = 50): Promise<ScaleInOutcome[]> {
    const done: ScaleInOutcome[] = [];
    while (done.length < limit) {
      const judged = await this.runner.run({ kind: 'scale_in_due' });
      if (!judged) break;
      done.push(judged);
    }
    return done;
  }
}
