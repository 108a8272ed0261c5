import { Inject, Injectable } from '@nestjs/common';
import type { Envelope } from '@autoheal/contracts';
import { OutboxPublisher } from '@autoheal/messaging';
import { claimInbox } from '@autoheal/persistence';
import { CLOCK, type Clock } from '../clock.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { OUTCOMES_CONSUMER } from '../decision.consumers.js';
import { decisionMetrics } from '../decision.metrics.js';
import { DecisionRunner, type FailureResult } from '../planning/decision-runner.js';
import { remediationsRepository } from '../planning/remediations.repository.js';
import { scaleInsRepository } from '../scale-in/scale-ins.repository.js';
import { armUsedBy, switchoverArmsRepository } from '../switchover-arms/switchover-arms.repository.js';
import { recordResolution, verifyDeadlineOf } from './verification.js';

export type OutcomeResult =
  /** The driver reported success: the incident now has until the verify deadline to resolve (and its window to hold)… */
  | 'verifying'
  /** …or it had resolved already: verified at once. */
  | 'verified'
  /** A planned scale-in was carried out (it has no incident to verify it by). */
  | 'scaled_in'
  /** An arm_switchover was carried out: the agent holds the arm (no incident to verify it by). */
  | 'armed'
  | FailureResult;

/**
 * Closes the loop on planned remediations: records how they ended. A success starts the
 * verification; a failure is a trigger of the DecisionRunner, which records it and decides the
 * incident again on the one path every decision takes — the playbook's next allowed candidate
 * under a new remediation id (the fallback), a wait (deferred), or a human.
 */
@Injectable()
export class OutcomesService {
  constructor(
    @Inject(CLOCK) private readonly clock: Clock,
    // A verification recorded on success is published right after commit, not through the relay.
    private readonly outbox: OutboxPublisher,
    private readonly runner: DecisionRunner,
  ) {}

  /**
   * The driver reported success. That is not the end: the remediation is verified once its
   * incident resolves (at once if it has already), and fails verification if the incident is
   * still open at the plan's verify deadline (VerificationWorker). Its slot on the service stays
   * taken until then.
   */
  async onSucceeded(event: Envelope<'remediation.succeeded'>): Promise<OutcomeResult> {
    const result = await this.outbox.transaction(async (m): Promise<OutcomeResult> => {
      if (!(await claimInbox(m, DECISION_SCHEMA, OUTCOMES_CONSUMER.durable, event.id))) return 'duplicate_event';
      const now = this.clock.now();
      // Locked: its plan says how long verification may take.
      const before = await remediationsRepository.findById(m, event.data.remediationId, true);
      // A scale-in is no incident's remediation: its outcome is recorded on its own row, and the
      // driver's word ends it (no incident is open whose resolution could verify it).
      if (!before) {
        if (await scaleInsRepository.recordOutcome(m, event.data.remediationId, { status: 'succeeded', at: now })) return 'scaled_in';
        return (await switchoverArmsRepository.recordArmed(m, event.data.remediationId)) ? 'armed' : 'not_ours_or_already_recorded';
      }
      // The agent had healed the instance already (switched or restarted), under an armed switchover: that arm is used (re-armed by the arms worker once the incident is verified).
      const usedArm = armUsedBy(event.data.details);
      if (usedArm) await switchoverArmsRepository.markUsed(m, usedArm, event.data.incidentId, now);
      const row = await remediationsRepository.startVerification(m, before.remediationId, now, verifyDeadlineOf(before, now));
      if (!row) return 'not_ours_or_already_recorded';
      // An incident that resolved while the action ran: verified now, or its verify window starts now.
      if (row.incidentResolvedAt && (await recordResolution(m, row, row.incidentResolvedAt, event.id)) === 'verified') return 'verified';
      return 'verifying';
    });
    if (result === 'verifying' || result === 'verified' || result === 'scaled_in' || result === 'armed') decisionMetrics.outcomes.inc({ status: 'succeeded' });
    return result;
  }

  async onFailed(event: Envelope<'remediation.failed'>): Promise<OutcomeResult> {
    return (await this.runner.run({ kind: 'remediation_failed', event })).result;
  }
}
