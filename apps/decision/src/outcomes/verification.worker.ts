import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { OutboxPublisher } from '@autoheal/messaging';
import { createLogger } from '@autoheal/telemetry';
import { CLOCK, type Clock } from '../clock.js';
import type { DecisionConfig } from '../config.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { PeriodicTask } from '../periodic-task.js';
import { DecisionRunner, type VerificationFailure } from '../planning/decision-runner.js';
import { remediationsRepository } from '../planning/remediations.repository.js';
import { recordVerified } from './verification.js';
import { judgeVerification } from './verify-window.js';

export type { VerificationFailure } from '../planning/decision-runner.js';

const log = createLogger('decision');

/** A remediation whose verify window held. */
export interface HeldVerification {
  remediationId: string;
  incidentId: string;
  result: 'verified';
  /** When the window ended: the verification's time (what time to remediate counts to). */
  verifiedAt: string;
}

/**
 * Closes verifications that are due, one row per transaction (claimed with SKIP LOCKED, so every
 * process may run the worker):
 *   - holds whose verify window ended by the deadline with no relapse → verified (recorded here:
 *     nothing is decided, nothing follows but the freed slot and a scale-in armed);
 *   - remediations past their deadline with their incident still open, or resolved too late for
 *     the window → failed, and what follows — a fallback or an escalation — is decided by the
 *     DecisionRunner, on the one path every decision takes.
 */
@Injectable()
export class VerificationWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly task = new PeriodicTask('closing due verifications', () => this.tick());

  constructor(
    private readonly runner: DecisionRunner,
    @Inject(DECISION_CONFIG) private readonly config: DecisionConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    // Verifications are published right after commit instead of through the relay.
    private readonly outbox: OutboxPublisher,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start(this.config.DECISION_VERIFY_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    this.task.stop();
  }

  /** Handles up to `limit` held windows, then up to `limit` overdue verifications, one transaction each. */
  async tick(limit = 50): Promise<VerificationFailure[]> {
    await this.finishHolds(limit);
    const done: VerificationFailure[] = [];
    while (done.length < limit) {
      const handled = await this.runner.run({ kind: 'verification_overdue' });
      if (!handled) break;
      done.push(handled);
    }
    return done;
  }

  /** Verifies up to `limit` remediations whose verify window held, one transaction each. */
  async finishHolds(limit = 50): Promise<HeldVerification[]> {
    const done: HeldVerification[] = [];
    while (done.length < limit) {
      const held = await this.outbox.transaction(async (m): Promise<HeldVerification | null> => {
        const now = this.clock.now();
        const row = await remediationsRepository.claimHeld(m, now);
        const windowMs = row?.execution?.verify.windowMs;
        if (!row?.verifyDeadline || windowMs === undefined) return null;
        const judged = judgeVerification({ executedAt: row.outcomeAt ?? now, deadline: row.verifyDeadline, resolvedAt: row.incidentResolvedAt, windowMs }, now);
        // The claim's conditions are the judgement's: anything else is left to the deadline.
        if (judged.kind !== 'verified') return null;
        const verified = await recordVerified(m, row, judged.at, null, { by: 'health_held', windowMs }, now);
        return verified ? { remediationId: row.remediationId, incidentId: row.incidentId, result: 'verified', verifiedAt: judged.at.toISOString() } : null;
      });
      if (!held) break;
      log.info(held, 'verify window held: verified');
      done.push(held);
    }
    return done;
  }
}
