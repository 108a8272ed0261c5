import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { newEventId, type Envelope, type RemediationAction } from '@autoheal/contracts';
import { OutboxPublisher } from '@autoheal/messaging';
import { appendToOutbox, claimInbox } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import { CLOCK, type Clock } from '../clock.js';
import type { DecisionConfig } from '../config.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { OUTCOMES_CONSUMER } from '../decision.consumers.js';
import { decisionMetrics } from '../decision.metrics.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { remediationsRepository, type FailedAttempt, type RemediationRow } from '../planning/remediations.repository.js';
import { announceDecision, decidedFields, takeDecision } from '../planning/take-decision.js';
import { enqueueEscalationOf } from '../escalations/escalation-targets.js';
import { escalationForFailure, type FailureEvent, type NoFallback } from './outcome-events.js';
import { countVerificationFailed, countVerified, recordVerified, verificationFailedEvent, verifyDeadlineOf } from './verification.js';

const log = createLogger('decision');

export type OutcomeResult =
  /** The driver reported success: the incident now has until the verify deadline to resolve… */
  | 'verifying'
  /** …or it had resolved already: verified at once. */
  | 'verified'
  | 'escalated'
  /** A failed remediation was replaced by the playbook's next allowed candidate (a new remediation id)… */
  | 'fallback_planned'
  /** …which needs a human's approval first… */
  | 'fallback_awaiting_approval'
  /** …or which the concurrency cap or the cooldown makes wait. */
  | 'fallback_deferred'
  | 'not_ours_or_already_recorded'
  | 'duplicate_event';

interface Fallback {
  result: 'fallback_planned' | 'fallback_awaiting_approval' | 'fallback_deferred';
  kind: 'plan' | 'await_approval' | 'defer';
  remediationId: string;
}

/**
 * Closes the loop on planned remediations: records how they ended. A failed automatic plan is
 * decided again, with every action already tried for the incident, through the same path as a
 * new or deferred decision (takeDecision under the breaker's shared lock and the tenant's lock):
 * the playbook's next allowed candidate replaces it (the fallback), or it waits (deferred), or a
 * human takes over. Either way a slot on the service is free again, so the incidents its
 * concurrency cap deferred become due.
 *
 * Rows and ids: one row per incident stays the rule (`incident_id` is unique). A fallback gets a
 * new remediation id, because the executor and the agent are idempotent by remediation id; the
 * row takes it, and the failed attempt moves to `remediation_attempts` (which the hourly cap, the
 * cooldown and the "already tried" check read). An outcome that names the old id, a duplicate or
 * a different failed event for the same remediation, then finds nothing to record: it cannot plan
 * twice.
 */
@Injectable()
export class OutcomesService {
  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DECISION_CONFIG) private readonly config: DecisionConfig,
    // A fallback after a failed remediation is published right after commit, not through the relay.
    private readonly outbox: OutboxPublisher,
  ) {}

  /**
   * The driver reported success. That is not the end: the remediation is verified once its
   * incident resolves (at once if it has already), and fails verification if the incident is
   * still open at the plan's verify deadline (VerificationWorker). Its slot on the service stays
   * taken until then.
   */
  async onSucceeded(event: Envelope<'remediation.succeeded'>): Promise<OutcomeResult> {
    const { result, verified } = await this.outbox.transaction(async (m): Promise<{ result: OutcomeResult; verified?: Envelope<'remediation.verified'> }> => {
      if (!(await claimInbox(m, DECISION_SCHEMA, OUTCOMES_CONSUMER.durable, event.id))) return { result: 'duplicate_event' };
      const now = this.clock.now();
      // Locked: its plan says how long verification may take.
      const before = await remediationsRepository.findById(m, event.data.remediationId, true);
      if (!before) return { result: 'not_ours_or_already_recorded' };
      const row = await remediationsRepository.startVerification(m, before.remediationId, now, verifyDeadlineOf(before, now));
      if (!row) return { result: 'not_ours_or_already_recorded' };
      const verified = row.incidentResolvedAt ? await recordVerified(m, row, row.incidentResolvedAt, event.id) : null;
      return verified ? { result: 'verified', verified } : { result: 'verifying' };
    });
    if (result === 'verifying' || result === 'verified') decisionMetrics.outcomes.inc({ status: 'succeeded' });
    if (verified) countVerified(verified);
    return result;
  }

  /**
   * A remediation being verified is past its deadline with the incident still open, locked by the
   * caller: it is recorded as failed (remediation.verification_failed) and the incident is decided
   * again like after a failed execution — the next allowed fallback, or a human.
   */
  async failVerification(m: EntityManager, row: RemediationRow): Promise<OutcomeResult> {
    const now = this.clock.now();
    const executedAt = row.outcomeAt ?? now;
    const deadline = row.verifyDeadline ?? now;
    const event = verificationFailedEvent(row, executedAt, deadline, now);
    const failed = await remediationsRepository.failVerification(m, row.remediationId, now, { code: 'verification_failed', message: event.data.reason });
    if (!failed) return 'not_ours_or_already_recorded';
    await appendToOutbox(m, DECISION_SCHEMA, [event]);
    await remediationsRepository.hastenDeferrals(m, failed.tenantId, failed.service, now);
    decisionMetrics.outcomes.inc({ status: 'verification_failed' });
    countVerificationFailed(event);
    // Only an automatic plan is decided again; a human approved that one action, so it goes back to a human.
    if (failed.decisionKind !== 'plan' || !failed.incident.incidentId) return this.escalate(m, failed, event, now, await remediationsRepository.attemptsOf(m, failed.incidentId));
    const outcome = await this.decideAgain(m, failed, event);
    if (typeof outcome !== 'string') decisionMetrics.decisions.inc({ outcome: outcome.kind });
    return typeof outcome === 'string' ? outcome : outcome.result;
  }

  async onFailed(event: Envelope<'remediation.failed'>): Promise<OutcomeResult> {
    const outcome = await this.outbox.transaction(async (m): Promise<Fallback | OutcomeResult> => {
      if (!(await claimInbox(m, DECISION_SCHEMA, OUTCOMES_CONSUMER.durable, event.id))) return 'duplicate_event';
      // Locks the row: what it was before this outcome says whether a fallback may follow.
      const before = await remediationsRepository.findById(m, event.data.remediationId, true);
      const failedAt = this.clock.now();
      const row = await remediationsRepository.recordOutcome(m, event.data.remediationId, { status: 'failed', at: failedAt, error: event.data.error });
      if (!row || !before) return 'not_ours_or_already_recorded';
      // Before the tenant's lock: the deferrals worker holds a deferred row's lock while it waits for that one.
      await remediationsRepository.hastenDeferrals(m, row.tenantId, row.service, failedAt);
      // A human approved that one action: when it fails, it goes back to a human. Rows recorded
      // without incident facts cannot be decided again.
      if (before.status !== 'planned' || !row.incident.incidentId) return this.escalate(m, row, event, failedAt, []);
      return this.decideAgain(m, row, event);
    });

    const result = typeof outcome === 'string' ? outcome : outcome.result;
    if (result === 'duplicate_event' || result === 'not_ours_or_already_recorded') return result;
    decisionMetrics.outcomes.inc({ status: 'failed' });
    const fields = { remediationId: event.data.remediationId, incidentId: event.data.incidentId, error: event.data.error };
    if (typeof outcome === 'string') {
      log.warn(fields, 'remediation failed; escalated');
    } else {
      decisionMetrics.decisions.inc({ outcome: outcome.kind });
      log.warn({ ...fields, fallbackRemediationId: outcome.remediationId, outcome: outcome.kind }, 'remediation failed; decided again with a fallback');
    }
    return result;
  }

  /**
   * Runs with the failed row locked: takes the breaker's shared lock and the tenant's lock like a
   * new decision, asks the policy again with every action tried so far, and either replaces the
   * row's remediation with the fallback (announced through the outbox, caused by the failure) or
   * escalates.
   */
  private async decideAgain(m: EntityManager, row: RemediationRow, failed: FailureEvent): Promise<Fallback | 'escalated'> {
    await remediationsRepository.lockBreakerSharedThenTenant(m, row.tenantId);
    const now = this.clock.now();
    const earlier = await remediationsRepository.attemptsOf(m, row.incidentId);
    const tried = [...earlier.map((a) => a.action), row.action as RemediationAction];
    // A fallback's deferral is a new wait: its limit counts from now, not from an earlier deferral.
    const taken = await takeDecision(m, row.tenantId, row.incident, now, { recheckMs: this.config.DECISION_DEFER_RECHECK_MS }, tried);
    const { decision } = taken;
    const { explanation } = decision;
    switch (decision.kind) {
      case 'plan':
      case 'await_approval':
      case 'defer': {
        const remediationId = newEventId(now.getTime());
        const replaced = await remediationsRepository.replaceFailed(m, row.remediationId, remediationId, decidedFields(taken, now, row.deferredAt));
        // Unreachable while the row is locked; the status condition is the guarantee.
        if (!replaced) throw new Error(`remediation ${row.remediationId} is no longer failed; not replacing it`);
        const subject = { tenantId: row.tenantId, incidentId: row.incidentId, service: row.service, instance: row.instance, causationId: failed.id };
        await announceDecision(m, taken, { subject, severity: row.incident.severity, remediationId, now, events: true });
        const result = decision.kind === 'plan' ? 'fallback_planned' : decision.kind === 'await_approval' ? 'fallback_awaiting_approval' : 'fallback_deferred';
        return { result, kind: decision.kind, remediationId };
      }
      case 'escalate':
      case 'hold': {
        const candidates = explanation.candidates.map(({ action, allowed, reason }) => ({ action, allowed, reason }));
        return this.escalate(m, row, failed, now, earlier, { reason: explanation.reason, policyVersion: explanation.policyVersion, candidates });
      }
      default: {
        const unreachable: never = decision;
        throw new Error(`unhandled decision ${JSON.stringify(unreachable)}`);
      }
    }
  }

  /** No fallback: a human takes over (the event, and one delivery per escalation target). The row stays `failed`. */
  private async escalate(
    m: EntityManager,
    row: RemediationRow,
    failed: FailureEvent,
    now: Date,
    earlier: readonly FailedAttempt[],
    noFallback?: NoFallback,
  ): Promise<'escalated'> {
    const escalated = escalationForFailure(row, failed, now, earlier, noFallback);
    await appendToOutbox(m, DECISION_SCHEMA, [escalated]);
    await enqueueEscalationOf(m, escalated, row.incident.severity, now);
    return 'escalated';
  }
}
