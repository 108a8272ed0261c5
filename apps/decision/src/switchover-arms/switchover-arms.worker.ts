import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { OutboxPublisher } from '@autoheal/messaging';
import { CLOCK, type Clock } from '../clock.js';
import type { DecisionConfig } from '../config.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { PeriodicTask } from '../periodic-task.js';
import { DecisionRunner, type ArmOutcome } from '../planning/decision-runner.js';
import { switchoverArmsRepository } from './switchover-arms.repository.js';

/**
 * Judges armed switchovers: a timer that finds services newly on the agent runtime or given warm spares (a row each),
 * then asks the DecisionRunner about each arm that is due, one per transaction (claimed with SKIP
 * LOCKED, so every process may run the worker). The due time lives in the row.
 */
@Injectable()
export class SwitchoverArmsWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly task = new PeriodicTask('judging armed switchovers', () => this.tick());

  constructor(
    private readonly runner: DecisionRunner,
    private readonly outbox: OutboxPublisher,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DECISION_CONFIG) private readonly config: DecisionConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start(this.config.DECISION_ARM_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    this.task.stop();
  }

  /** Finds new services with spares, then judges up to `limit` due arms, one transaction each; returns what became of them. */
  async tick(limit = 50): Promise<ArmOutcome[]> {
    await this.outbox.transaction((m) => switchoverArmsRepository.discover(m, this.clock.now()));
    const done: ArmOutcome[] = [];
    while (done.length < limit) {
      const judged = await this.runner.run({ kind: 'switchover_arm_due' });
      if (!judged) break;
      done.push(judged);
    }
    return done;
  }
}
