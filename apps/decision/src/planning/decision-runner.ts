import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { newEventId, type Envelope, type RemediationAction } from '@autoheal/contracts';
import { OutboxPublisher } from '@autoheal/messaging';
import { appendToOutbox, claimInbox, outboxBatch, outboxBatchStored } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import { BreakerService } from '../breaker/breaker.service.js';
import { instanceKeyOf, type BreakerIncident } from '../breaker/breaker-judgement.js';
import { CLOCK, type Clock } from '../clock.js';
import type { DecisionConfig } from '../config.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { INCIDENTS_CONSUMER, OUTCOMES_CONSUMER } from '../decision.consumers.js';
import { decisionMetrics } from '../decision.metrics.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { enqueueEscalationOf } from '../escalations/escalation-targets.js';
import { escalationForFailure, type FailureEvent, type NoFallback } from '../outcomes/outcome-events.js';
import { countVerificationFailed, verificationFailedEvent } from '../outcomes/verification.js';
import { holdOf, isRelapse, judgeVerification, relapseReason } from '../outcomes/verify-window.js';
import { decideScaleIn, type ScaleInDecision } from '../scale-in/scale-in.js';
import { scaleInPlannedEvent } from '../scale-in/scale-in-events.js';
import { scaleInsRepository } from '../scale-in/scale-ins.repository.js';
import { decideArm, type ArmDecision } from '../switchover-arms/switchover-arm.js';
import { armPlannedEvent } from '../switchover-arms/switchover-arm-events.js';
import { switchoverArmsRepository } from '../switchover-arms/switchover-arms.repository.js';
import { subjectOf, type DecisionSubject } from './decision-events.js';
import { declaredInstanceCount, inventoryStanding, type PolicyDecision, type PolicyInput } from './policy-port.js';
import { remediationsRepository, type DecisionState, type FailedAttempt, type IncidentFacts, type RemediationRow } from './remediations.repository.js';
import { decidedFields, decideOn, decisionEvents, decisionStateQuery, enqueueEscalations, type Announcement, type TakenDecision } from './take-decision.js';

const log = createLogger('decision');

/**
 * What asks for a decision, described plainly: every trigger hands one of these to
 * DecisionRunner.run, and the runner takes the decision — lock, evaluate, store, announce — in
 * one transaction, in one place.
 */
export type DecisionTrigger =
  /** A new incident (stream INCIDENTS). */
  | { kind: 'incident_opened'; event: Envelope<'incident.opened'> }
  /** The deferred decision due first, if any (the deferrals worker). */
  | { kind: 'deferral_due' }
  /** An executed remediation failed (stream REMEDIATIONS): the next allowed fallback, or a human. */
  | { kind: 'remediation_failed'; event: Envelope<'remediation.failed'> }
  /** The remediation first past its verify deadline with its incident still open, if any (the verification worker). */
  | { kind: 'verification_overdue' }
  /**
   * A new incident (stream INCIDENTS, before it is decided itself) on a target whose remediation's
   * verify window is being held: a relapse fails that verification, then its fallback or a human.
   */
  | { kind: 'verification_relapsed'; event: Envelope<'incident.opened'> }
  /** The verified scale_out whose scale-in is due to be judged first, if any (the scale-in worker). */
  | { kind: 'scale_in_due' }
  /** The armed switchover due to be judged first, if any (the arms worker). */
  | { kind: 'switchover_arm_due' };

export type DecisionTriggerKind = DecisionTrigger['kind'];

/** What became of an opened incident. */
export type OpenedOutcome =
  | { kind: 'duplicate_event' }
  | { kind: 'already_decided'; remediationId: string }
  | { kind: PolicyDecision['kind']; remediationId: string; dryRun: boolean; refusedBy?: string };

/** What became of a deferred incident decided again. */
export interface Redecision {
  incidentId: string;
  remediationId: string;
  kind: PolicyDecision['kind'];
  /** False for a deferral checked again on unchanged grounds: the row moved on, nothing was published. */
  announced: boolean;
  /** The rule behind the first refusal, when one refused. */
  refusedBy?: string;
}

/** What followed a failure (of the execution, or of the verification). */
export type FailureResult =
  | 'escalated'
  /** A planned scale-in failed: recorded; nothing is broken, so nothing else follows. */
  | 'scale_in_failed'
  /** An arm_switchover failed: recorded, judged again later; crashes are healed the slow way meanwhile. */
  | 'arm_failed'
  /** A failed remediation was replaced by the playbook's next allowed candidate (a new remediation id)… */
  | 'fallback_planned'
  /** …which needs a human's approval first… */
  | 'fallback_awaiting_approval'
  /** …or which the concurrency cap or the cooldown makes wait. */
  | 'fallback_deferred'
  | 'not_ours_or_already_recorded'
  | 'duplicate_event';

export interface FailureOutcome {
  result: FailureResult;
  /** The fallback's new remediation id and its decision, when one was decided. */
  fallback?: { remediationId: string; kind: 'plan' | 'await_approval' | 'defer' };
}

/** A verification that failed at its deadline, and what followed. */
export interface VerificationFailure {
  remediationId: string;
  incidentId: string;
  result: FailureResult;
}

type HandledVerificationFailure = { failure: VerificationFailure; fallback?: FailureOutcome['fallback'] };

/** What became of a scale-in judged when due. */
export interface ScaleInOutcome {
  scaleOutId: string;
  remediationId: string;
  incidentId: string;
  kind: ScaleInDecision['kind'];
  reason: string;
}

/** What became of an armed switchover judged when due. */
export interface ArmOutcome {
  tenantId: string;
  service: string;
  kind: ArmDecision['kind'];
  /** The arm_switchover planned (an arm, or a withdrawal), if one was. */
  remediationId: string | null;
  reason: string;
}

/** What run() returns, per trigger (null: nothing was due). */
export interface DecisionResults {
  incident_opened: OpenedOutcome;
  deferral_due: Redecision | null;
  remediation_failed: FailureOutcome;
  verification_overdue: VerificationFailure | null;
  verification_relapsed: VerificationFailure | null;
  scale_in_due: ScaleInOutcome | null;
  switchover_arm_due: ArmOutcome | null;
}

/**
 * A trigger's claim on an incident, made in the decision's transaction before any lock: which
 * incident, what was tried already, how the decision is stored, and what it answers.
 */
type Claim =
  | { kind: 'opened'; event: Envelope<'incident.opened'>; facts: IncidentFacts }
  | { kind: 'deferred'; row: RemediationRow }
  | { kind: 'failed'; row: RemediationRow; failure: FailureEvent };

/** How the incident stood against its tenant's inventory when decided: what it counts toward. */
interface Standing {
  breaker: BreakerIncident;
}

/** Rolls an opened incident's transaction back: a breaker is to be checked, and may open, before it is decided. */
class BreakerCheckFirst extends Error {
  constructor(readonly incident: BreakerIncident) {
    super('the incident would trip a breaker: check it first, then decide');
  }
}

function breakerIncidentOf(event: Envelope<'incident.opened'>, state: DecisionState): BreakerIncident {
  const { incidentId, service, instance, suspectedCause, scope, detectedAt } = event.data;
  const inventory = state.tenant?.document.inventory ?? null;
  return {
    tenantId: event.tenantId,
    incidentId,
    service,
    instance,
    at: new Date(detectedAt).getTime(),
    ...(suspectedCause !== undefined ? { suspectedCause } : {}),
    serviceLevel: scope === 'service',
    standing: inventoryStanding(inventory, service, instance),
    declaredInstances: declaredInstanceCount(inventory),
  };
}

export function incidentFacts(event: Envelope<'incident.opened'>): IncidentFacts {
  const { incidentId, kind, severity, service, instance, suspectedCause, scope } = event.data;
  return {
    incidentId,
    kind,
    severity,
    service,
    instance,
    openedAt: new Date(event.data.detectedAt).getTime(),
    ...(suspectedCause ? { suspectedCause } : {}),
    ...(scope ? { scope } : {}),
  };
}

function subjectOfRow(row: RemediationRow, causationId: string): DecisionSubject {
  return { tenantId: row.tenantId, incidentId: row.incidentId, service: row.service, instance: row.instance, causationId };
}

type Opened = OpenedOutcome & { standing?: Standing };

/**
 * The one path a remediation decision takes, whatever asked for it (DecisionTrigger): a new
 * incident, a deferral come due, a failed execution, a failed verification, a scale-in come due
 * (which claims its row, takes the same locks and reads, and is judged by scale-in/scale-in.ts
 * rather than the playbook policy). In one transaction:
 *   1. claim — the trigger's own step: the inbox entry (events), the due row (workers, SKIP
 *      LOCKED), the failure recorded on the row;
 *   2. lock — the breaker's lock shared, then the tenant's, the order every decision takes them in;
 *   3. read — the guardrail state and the tenant's document in one statement under the locks, with
 *      the clock read under them (for a new incident, its breaker window in the same statement:
 *      an incident that would trip a breaker rolls back, the breaker service opens it, and the
 *      decision is taken again);
 *   4. evaluate — the pure policy (decideOn);
 *   5. store — a new row, the deferred row updated in place, or the failed row replaced by its
 *      fallback under a new remediation id (or, when no fallback is allowed, the failure escalated);
 *   6. announce — the events through the outbox and the escalation deliveries.
 * After the commit, a new incident's tenant window is judged again by the breaker service.
 */
@Injectable()
export class DecisionRunner {
  constructor(
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DECISION_CONFIG) private readonly config: DecisionConfig,
    // Decisions are published right after commit instead of through the relay.
    private readonly outbox: OutboxPublisher,
    private readonly breakers: BreakerService,
  ) {}

  run(trigger: Extract<DecisionTrigger, { kind: 'incident_opened' }>): Promise<OpenedOutcome>;
  run(trigger: Extract<DecisionTrigger, { kind: 'deferral_due' }>): Promise<Redecision | null>;
  run(trigger: Extract<DecisionTrigger, { kind: 'remediation_failed' }>): Promise<FailureOutcome>;
  run(trigger: Extract<DecisionTrigger, { kind: 'verification_overdue' }>): Promise<VerificationFailure | null>;
  run(trigger: Extract<DecisionTrigger, { kind: 'verification_relapsed' }>): Promise<VerificationFailure | null>;
  run(trigger: Extract<DecisionTrigger, { kind: 'scale_in_due' }>): Promise<ScaleInOutcome | null>;
  run(trigger: Extract<DecisionTrigger, { kind: 'switchover_arm_due' }>): Promise<ArmOutcome | null>;
  async run(trigger: DecisionTrigger): Promise<DecisionResults[DecisionTriggerKind]> {
    switch (trigger.kind) {
      case 'incident_opened':
        return this.runOpened(trigger.event);
      case 'deferral_due':
        return this.runDeferral();
      case 'remediation_failed':
        return this.runFailed(trigger.event);
      case 'verification_overdue':
        return this.runOverdueVerification();
      case 'verification_relapsed':
        return this.runRelapse(trigger.event);
      case 'scale_in_due':
        return this.runScaleIn();
      case 'switchover_arm_due':
        return this.runArm();
      default: {
        const unreachable: never = trigger;
        throw new Error(`unhandled decision trigger ${JSON.stringify(unreachable)}`);
      }
    }
  }

  // ── triggers: each claims its incident, then hands it to decide() ─────────────────────────────

  private async runOpened(event: Envelope<'incident.opened'>): Promise<OpenedOutcome> {
    const once = (breakerChecked: boolean) =>
      this.outbox.transaction(async (m): Promise<Opened> => {
        // One statement: the inbox claim, the incident recorded for availability (every incident
        // counts, whatever is decided) and both locks.
        if (!(await remediationsRepository.claimRecordAndLock(m, INCIDENTS_CONSUMER.durable, event))) return { kind: 'duplicate_event' };
        return this.decideOpened(m, { kind: 'opened', event, facts: incidentFacts(event) }, breakerChecked);
      });
    const { standing, ...outcome } = await once(false).catch(async (error: unknown): Promise<Opened> => {
      if (!(error instanceof BreakerCheckFirst)) throw error;
      // Rolled back: the breaker service opens the breaker (its own transaction, which waits for
      // the locks of decisions in progress), then the decision is taken again, seeing it open.
      await this.breakers.check(error.incident);
      return once(true);
    });
    // Decisions taken at the same time cannot see each other before they commit; whichever
    // commits last sees them all.
    if (standing) await this.breakers.check(standing.breaker);
    if (standing?.breaker.standing === 'undeclared') {
      decisionMetrics.undeclaredIncidents.inc({ tenant: event.tenantId });
      log.warn({ tenantId: event.tenantId, service: event.data.service, instance: event.data.instance, incidentId: event.data.incidentId }, 'incident on an instance the tenant does not declare: counted toward no breaker');
    }
    switch (outcome.kind) {
      case 'duplicate_event':
        break;
      case 'already_decided':
        log.info({ incidentId: event.data.incidentId, eventId: event.id }, 'incident already decided; nothing to do');
        break;
      case 'plan':
      case 'await_approval':
      case 'escalate':
      case 'defer':
      case 'hold':
        this.count(outcome.kind, outcome.refusedBy);
        decisionMetrics.decisionLatency.observe({ outcome: outcome.kind }, Math.max(0, this.clock.now().getTime() - Date.parse(event.data.detectedAt)) / 1000);
        log.info({ incidentId: event.data.incidentId, tenantId: event.tenantId, remediationId: outcome.remediationId, outcome: outcome.kind, dryRun: outcome.dryRun }, 'incident decided');
        break;
      default: {
        const unreachable: never = outcome;
        throw new Error(`unhandled planning outcome ${JSON.stringify(unreachable)}`);
      }
    }
    return outcome;
  }

  private async runDeferral(): Promise<Redecision | null> {
    const result = await this.outbox.transaction(async (m): Promise<Redecision | null> => {
      const row = await remediationsRepository.claimDueDeferral(m, this.clock.now());
      if (!row) return null;
      return this.decideDeferred(m, { kind: 'deferred', row });
    });
    if (!result) return null;
    const fields = { incidentId: result.incidentId, remediationId: result.remediationId, outcome: result.kind };
    if (!result.announced) {
      log.debug(fields, 'deferred incident checked again; still deferred');
    } else {
      this.count(result.kind, result.refusedBy);
      log.info(fields, 'deferred incident decided again');
    }
    return result;
  }

  private async runFailed(event: Envelope<'remediation.failed'>): Promise<FailureOutcome> {
    const outcome = await this.outbox.transaction(async (m): Promise<FailureOutcome> => {
      if (!(await claimInbox(m, DECISION_SCHEMA, OUTCOMES_CONSUMER.durable, event.id))) return { result: 'duplicate_event' };
      // Locks the row: what it was before this outcome says whether a fallback may follow.
      const before = await remediationsRepository.findById(m, event.data.remediationId, true);
      const failedAt = this.clock.now();
      const row = await remediationsRepository.recordOutcome(m, event.data.remediationId, { status: 'failed', at: failedAt, error: event.data.error });
      if (!row || !before) {
        // A scale-in is no incident's remediation: its failure is recorded on its own row.
        const scaleIn = await scaleInsRepository.recordOutcome(m, event.data.remediationId, { status: 'failed', at: failedAt, error: event.data.error });
        if (scaleIn) return { result: 'scale_in_failed' };
        const retry = { retryMs: this.config.DECISION_ARM_RECHECK_MS, maxRetryMs: this.config.DECISION_ARM_TTL_MS };
        const arm = await switchoverArmsRepository.recordFailure(m, event.data.remediationId, failedAt, retry, `${event.data.error.code}: ${event.data.error.message}`);
        return { result: arm ? 'arm_failed' : 'not_ours_or_already_recorded' };
      }
      // Before the tenant's lock: the deferrals worker holds a deferred row's lock while it waits for that one.
      await remediationsRepository.hastenDeferrals(m, row.tenantId, row.service, failedAt);
      // A human approved that one action: when it fails, it goes back to a human. Rows recorded
      // without incident facts cannot be decided again.
      if (before.status !== 'planned' || !row.incident.incidentId) return { result: await escalateFailure(m, row, event, failedAt, []) };
      return this.decideFailed(m, { kind: 'failed', row, failure: event });
    });
    if (outcome.result === 'duplicate_event' || outcome.result === 'not_ours_or_already_recorded') return outcome;
    decisionMetrics.outcomes.inc({ status: 'failed' });
    const fields = { remediationId: event.data.remediationId, incidentId: event.data.incidentId, error: event.data.error };
    if (outcome.result === 'scale_in_failed') {
      log.warn(fields, 'scale-in failed: the instances scale_out added keep running until someone stops them');
      return outcome;
    }
    if (outcome.result === 'arm_failed') {
      log.warn(fields, 'arm_switchover failed: crashes of the service are healed through the control plane until it is armed');
      return outcome;
    }
    if (outcome.fallback) {
      this.count(outcome.fallback.kind);
      log.warn({ ...fields, fallbackRemediationId: outcome.fallback.remediationId, outcome: outcome.fallback.kind }, 'remediation failed; decided again with a fallback');
    } else {
      log.warn(fields, 'remediation failed; escalated');
    }
    return outcome;
  }

  /**
   * A remediation being verified is past its deadline with the incident still open: it is
   * recorded as failed (remediation.verification_failed) and the incident is decided again like
   * after a failed execution — the next allowed fallback, or a human.
   */
  private async runOverdueVerification(): Promise<VerificationFailure | null> {
    const handled = await this.outbox.transaction(async (m): Promise<HandledVerificationFailure | null> => {
      const row = await remediationsRepository.claimDueVerification(m, this.clock.now());
      if (!row) return null;
      const now = this.clock.now();
      const executedAt = row.outcomeAt ?? now;
      const deadline = row.verifyDeadline ?? now;
      const windowMs = row.execution?.verify.windowMs;
      // Still open, or resolved too late for the window to hold before the deadline.
      const judged = judgeVerification({ executedAt, deadline, resolvedAt: row.incidentResolvedAt, ...(windowMs !== undefined ? { windowMs } : {}) }, now);
      const event = verificationFailedEvent(row, executedAt, deadline, now, judged.kind === 'failed' ? judged.reason : undefined);
      const failed = await remediationsRepository.failVerification(m, row.remediationId, now, { code: 'verification_failed', message: event.data.reason });
      return this.afterVerificationFailed(m, row, failed, event, now);
    });
    return this.reportVerificationFailure(handled, 'remediation not verified by its deadline');
  }

  /**
   * A new incident began on a target whose remediation's verify window is being held: the fix did
   * not hold. The hold is claimed (row lock, waiting for a worker judging it: it is judged once),
   * the verification fails naming the new incident (caused by its event), and the old incident
   * is decided again like after any failed verification: the next allowed fallback, or a human.
   * The old incident's resolution no longer counts: the fallback is verified by the new incident
   * resolving (`relapse_incident_id`). The new incident is decided afterwards on its own (the
   * incident_opened trigger): the fallback just planned on the target makes it wait (cooldown,
   * concurrency cap) and its deferral is not due while the fallback is in flight (see
   * claimDueDeferral); it is closed without action when it resolves.
   */
  private async runRelapse(opened: Envelope<'incident.opened'>): Promise<VerificationFailure | null> {
    const { tenantId } = opened;
    const { service, instance, incidentId, signalAt } = opened.data;
    const handled = await this.outbox.transaction(async (m): Promise<HandledVerificationFailure | null> => {
      const row = await remediationsRepository.findHoldOnTarget(m, tenantId, service, instance, incidentId);
      const windowMs = row?.execution?.verify.windowMs;
      if (!row?.holdUntil || windowMs === undefined) return null;
      const hold = holdOf(row.holdUntil, windowMs);
      const began = new Date(signalAt);
      if (!isRelapse(hold, began)) return null;
      const now = this.clock.now();
      const event = verificationFailedEvent(row, row.outcomeAt ?? hold.since, row.verifyDeadline ?? now, now, relapseReason(hold, windowMs, incidentId, began), opened.id);
      const failed = await remediationsRepository.failRelapse(m, row.remediationId, now, incidentId, { code: 'verification_failed', message: event.data.reason });
      return this.afterVerificationFailed(m, row, failed, event, now);
    });
    return this.reportVerificationFailure(handled, 'remediation not verified: the target relapsed inside its verify window');
  }

  /** What follows a failed verification, in its transaction: the event, the freed slot, then a fallback or a human. */
  private async afterVerificationFailed(
    m: EntityManager,
    row: RemediationRow,
    failed: RemediationRow | null,
    event: Envelope<'remediation.verification_failed'>,
    now: Date,
  ): Promise<HandledVerificationFailure> {
    const ids = { remediationId: row.remediationId, incidentId: row.incidentId };
    if (!failed) return { failure: { ...ids, result: 'not_ours_or_already_recorded' } };
    await appendToOutbox(m, DECISION_SCHEMA, [event]);
    countVerificationFailed(event);
    await remediationsRepository.hastenDeferrals(m, failed.tenantId, failed.service, now);
    // Only an automatic plan is decided again; a human approved that one action, so it goes back to a human.
    if (failed.decisionKind !== 'plan' || !failed.incident.incidentId) {
      return { failure: { ...ids, result: await escalateFailure(m, failed, event, now, await remediationsRepository.attemptsOf(m, failed.incidentId)) } };
    }
    const outcome = await this.decideFailed(m, { kind: 'failed', row: failed, failure: event });
    return { failure: { ...ids, result: outcome.result }, fallback: outcome.fallback };
  }

  private reportVerificationFailure(handled: HandledVerificationFailure | null, message: string): VerificationFailure | null {
    if (!handled) return null;
    if (handled.failure.result !== 'not_ours_or_already_recorded') decisionMetrics.outcomes.inc({ status: 'verification_failed' });
    if (handled.fallback) this.count(handled.fallback.kind);
    log.warn(handled.failure, message);
    return handled.failure;
  }

  /**
   * A verified scale_out's scale-in is due to be judged (scale-in/scale-in.ts): claimed (SKIP
   * LOCKED), then under the same locks as any decision of its tenant, from a read taken under
   * them: planned (announced as remediation.planned, action scale_in), judged again later, or
   * skipped as not applicable.
   */
  private async runScaleIn(): Promise<ScaleInOutcome | null> {
    const outcome = await this.outbox.transaction(async (m): Promise<ScaleInOutcome | null> => {
      const row = await scaleInsRepository.claimDue(m, this.clock.now());
      if (!row) return null;
      await remediationsRepository.lockBreakerSharedThenTenant(m, row.tenantId);
      const now = this.clock.now();
      const decision = decideScaleIn(row, await scaleInsRepository.state(m, row, now), now, { recheckMs: this.config.DECISION_DEFER_RECHECK_MS });
      const ids = { scaleOutId: row.scaleOutId, remediationId: row.remediationId, incidentId: row.incidentId, kind: decision.kind, reason: decision.reason };
      switch (decision.kind) {
        case 'plan':
          // Unreachable while the row is locked; the status condition is the guarantee.
          if (!(await scaleInsRepository.decide(m, row.scaleOutId, { status: 'planned', reason: decision.reason, policyVersion: decision.policyVersion, execution: decision.execution, at: now }))) return null;
          await appendToOutbox(m, DECISION_SCHEMA, [scaleInPlannedEvent(row, decision, now)]);
          return ids;
        case 'skip':
          if (!(await scaleInsRepository.decide(m, row.scaleOutId, { status: 'skipped', reason: decision.reason, policyVersion: decision.policyVersion, execution: null, at: now }))) return null;
          return ids;
        case 'wait':
          // Judged again then; nothing is announced (like a deferral checked on unchanged grounds).
          if (!(await scaleInsRepository.postpone(m, row.scaleOutId, decision.until, decision.reason))) return null;
          return ids;
        default: {
          const unreachable: never = decision;
          throw new Error(`unhandled scale-in decision ${JSON.stringify(unreachable)}`);
        }
      }
    });
    if (!outcome) return null;
    if (outcome.kind === 'plan') {
      this.count('plan');
      log.info(outcome, 'scale-in planned');
    } else {
      log.info(outcome, outcome.kind === 'skip' ? 'scale-in skipped' : 'scale-in not due yet');
    }
    return outcome;
  }

  /**
   * An armed switchover is due to be judged (switchover-arms/switchover-arm.ts): claimed (SKIP
   * LOCKED), then under the same locks as any decision of its tenant, from the same read a crash's
   * decision takes: armed (announced as remediation.planned, action arm_switchover), kept,
   * withheld, or withdrawn (an arm_switchover with armTtlMs 0).
   */
  private async runArm(): Promise<ArmOutcome | null> {
    const outcome = await this.outbox.transaction(async (m): Promise<ArmOutcome | null> => {
      const row = await switchoverArmsRepository.claimDue(m, this.clock.now());
      if (!row) return null;
      await remediationsRepository.lockBreakerSharedThenTenant(m, row.tenantId);
      const now = this.clock.now();
      // The read a crash on the service would take (its pacing fields are not used: see decideArm).
      const probe = { incidentId: '00000000-0000-0000-0000-000000000000', kind: 'crashed', severity: 'major', service: row.service, instance: '', openedAt: now.getTime() };
      const state = await remediationsRepository.decisionState(m, decisionStateQuery(row.tenantId, probe, now));
      const recheckMs = this.config.DECISION_ARM_RECHECK_MS;
      const ttlMs = this.config.DECISION_ARM_TTL_MS;
      const decision = decideArm(row, state, now, { ttlMs, recheckMs });
      const key = { tenantId: row.tenantId, service: row.service };
      const recheck = new Date(now.getTime() + Math.min(recheckMs, ttlMs / 2));
      switch (decision.kind) {
        case 'arm': {
          const remediationId = newEventId(now.getTime());
          const { instance, execution, policyVersion, reason, inputs } = decision;
          await switchoverArmsRepository.update(m, key, { status: 'armed', remediationId, policyVersion, expiresAt: new Date(now.getTime() + ttlMs), dueAt: recheck, reason, at: now });
          await appendToOutbox(m, DECISION_SCHEMA, [armPlannedEvent({ ...key, instance, remediationId, policyVersion, reason, execution, inputs }, now)]);
          return { ...key, kind: 'arm', remediationId, reason };
        }
        case 'keep':
          await switchoverArmsRepository.postpone(m, key, decision.until, decision.reason);
          return { ...key, kind: 'keep', remediationId: row.remediationId, reason: decision.reason };
        case 'withhold': {
          const { withdraw, reason, policyVersion, inputs } = decision;
          if (!withdraw || policyVersion === null) {
            // Nothing holds on the agent (or nothing can be addressed: it lapses by its expiry).
            await switchoverArmsRepository.update(m, key, { status: 'withheld', remediationId: row.remediationId, policyVersion, expiresAt: row.expiresAt, dueAt: recheck, reason, at: now });
            return { ...key, kind: 'withhold', remediationId: null, reason };
          }
          const remediationId = newEventId(now.getTime());
          const withdrawal = `${reason}: withdrawing arm ${row.remediationId}`;
          await switchoverArmsRepository.update(m, key, { status: 'withheld', remediationId, policyVersion, expiresAt: now, dueAt: recheck, reason: withdrawal, at: now });
          await appendToOutbox(m, DECISION_SCHEMA, [armPlannedEvent({ ...key, instance: withdraw.instance, remediationId, policyVersion, reason: withdrawal, execution: withdraw.execution, inputs: { ...inputs, withdraws: row.remediationId } }, now)]);
          return { ...key, kind: 'withhold', remediationId, reason: withdrawal };
        }
        default: {
          const unreachable: never = decision;
          throw new Error(`unhandled arm decision ${JSON.stringify(unreachable)}`);
        }
      }
    });
    if (outcome && outcome.remediationId && outcome.kind !== 'keep') log.info(outcome, outcome.kind === 'arm' ? 'switchover armed' : 'switchover arm withdrawn');
    return outcome;
  }

  // ── the decision itself: lock, read, evaluate, store, announce ───────────────────────────────

  /** Locks taken by the claim already. Throws BreakerCheckFirst, rolled back, when the incident would trip a breaker and `breakerChecked` is false. */
  private async decideOpened(m: EntityManager, claim: Extract<Claim, { kind: 'opened' }>, breakerChecked: boolean): Promise<Opened> {
    const { event, facts } = claim;
    // Read under the locks, the clock too, so that every counted action lies before `now`.
    const now = this.clock.now();
    // A statement of its own, after the one that took the locks: under READ COMMITTED a
    // statement's snapshot is taken when it starts, so only a statement that starts once the
    // locks are granted sees every decision committed before them.
    const query = decisionStateQuery(event.tenantId, facts, now);
    let state: DecisionState;
    if (breakerChecked) {
      state = await remediationsRepository.decisionState(m, query);
    } else {
      // The breaker's window in the same statement: its counts come from the decision's own snapshot.
      const read = await remediationsRepository.openedDecisionState(m, {
        ...query,
        windowStart: this.breakers.windowStart(now),
        now,
        instanceKey: instanceKeyOf(event.data),
      });
      const incident = breakerIncidentOf(event, read.state);
      if (!read.state.existingRemediationId && this.breakers.wouldTrip(incident, read.window, now)) throw new BreakerCheckFirst(incident);
      state = read.state;
    }
    if (state.existingRemediationId) return { kind: 'already_decided', remediationId: state.existingRemediationId };
    const standing = { breaker: breakerIncidentOf(event, state) };
    // A new incident has tried nothing yet.
    const taken = decideOn(state, facts, now, { recheckMs: this.config.DECISION_DEFER_RECHECK_MS }, []);
    const { decision, record } = taken;

    const remediationId = newEventId(now.getTime());
    const announcement: Announcement = { subject: subjectOf(event), severity: event.data.severity, remediationId, now };
    const events = outboxBatch(decisionEvents(taken, announcement));
    // Stored and announced in one statement: the events only when the row was inserted.
    const inserted = await remediationsRepository.insertWithEvents(
      m,
      {
        remediationId,
        incidentId: facts.incidentId,
        tenantId: event.tenantId,
        service: facts.service,
        instance: facts.instance,
        incidentEventId: event.id,
        incident: facts,
        openedAt: new Date(facts.openedAt),
        suspectedCause: facts.suspectedCause ?? null,
        // A new incident was never deferred before.
        ...decidedFields(taken, now, null),
        breakerStanding: standing.breaker.standing,
      },
      events,
    );
    // Unreachable while the lock is held, but the unique index is the guarantee, not the lock.
    if (!inserted) return { kind: 'already_decided', remediationId };
    await outboxBatchStored(m, DECISION_SCHEMA, events);
    await enqueueEscalations(m, taken, announcement);
    return { kind: decision.kind, remediationId, dryRun: record.status === 'dry_run', ...(record.refusalRule ? { refusedBy: record.refusalRule } : {}), standing };
  }

  /** The deferred row is locked by its claim; decided again in place (same remediation id). */
  private async decideDeferred(m: EntityManager, { row }: Extract<Claim, { kind: 'deferred' }>): Promise<Redecision | null> {
    // The row lock is taken first: nothing that waits on a deferred row's lock holds these two.
    const { now, tried } = await this.lockAndRead(m, row, []);
    const since = row.deferredAt?.getTime() ?? row.decidedAt.getTime();
    const taken = await this.evaluate(m, row, now, { recheckMs: this.config.DECISION_DEFER_RECHECK_MS, since }, tried);
    const { decision, record } = taken;
    const updated = await remediationsRepository.redecide(m, row.remediationId, decidedFields(taken, now, row.deferredAt));
    // Unreachable while the row is locked; the status condition is the guarantee.
    if (!updated) return null;
    // Still deferred for the same reason: the row moved on, the audit trail has that deferral already.
    const announced = !(decision.kind === 'defer' && record.refusalRule === row.refusalRule);
    await announce(m, taken, { subject: subjectOfRow(row, row.incidentEventId), severity: row.incident.severity, remediationId: row.remediationId, now }, announced);
    return { incidentId: row.incidentId, remediationId: row.remediationId, kind: decision.kind, announced, ...(record.refusalRule ? { refusedBy: record.refusalRule } : {}) };
  }

  /**
   * The failed row is locked by its claim: asks the policy again with every action tried so far,
   * and either replaces the row's remediation with the fallback (announced through the outbox,
   * caused by the failure) or escalates.
   */
  private async decideFailed(m: EntityManager, { row, failure }: Extract<Claim, { kind: 'failed' }>): Promise<FailureOutcome> {
    const { now, tried, earlier } = await this.lockAndRead(m, row, [row.action as RemediationAction]);
    // A fallback's deferral is a new wait: its limit counts from now, not from an earlier deferral.
    const taken = await this.evaluate(m, row, now, { recheckMs: this.config.DECISION_DEFER_RECHECK_MS }, tried);
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
        await announce(m, taken, { subject: subjectOfRow(row, failure.id), severity: row.incident.severity, remediationId, now }, true);
        const result = decision.kind === 'plan' ? 'fallback_planned' : decision.kind === 'await_approval' ? 'fallback_awaiting_approval' : 'fallback_deferred';
        return { result, fallback: { remediationId, kind: decision.kind } };
      }
      case 'escalate':
      case 'hold': {
        const candidates = explanation.candidates.map(({ action, allowed, reason }) => ({ action, allowed, reason }));
        return { result: await escalateFailure(m, row, failure, now, earlier, { reason: explanation.reason, policyVersion: explanation.policyVersion, candidates }) };
      }
      default: {
        const unreachable: never = decision;
        throw new Error(`unhandled decision ${JSON.stringify(unreachable)}`);
      }
    }
  }

  /**
   * Takes the breaker's shared lock and the tenant's lock (after the row's, which the claim
   * holds), reads the clock under them and the actions already tried for the incident: the
   * attempts a fallback replaced, then `alsoTried`.
   */
  private async lockAndRead(m: EntityManager, row: RemediationRow, alsoTried: RemediationAction[]): Promise<{ now: Date; tried: RemediationAction[]; earlier: FailedAttempt[] }> {
    await remediationsRepository.lockBreakerSharedThenTenant(m, row.tenantId);
    const now = this.clock.now();
    const earlier = await remediationsRepository.attemptsOf(m, row.incidentId);
    return { now, earlier, tried: [...earlier.map((a) => a.action), ...alsoTried] };
  }

  /** The guardrail state and the tenant's document in one statement, then the pure policy. */
  private async evaluate(m: EntityManager, row: RemediationRow, now: Date, deferral: NonNullable<PolicyInput['deferral']>, tried: RemediationAction[]): Promise<TakenDecision> {
    const state = await remediationsRepository.decisionState(m, decisionStateQuery(row.tenantId, row.incident, now));
    return decideOn(state, row.incident, now, deferral, tried);
  }

  private count(kind: PolicyDecision['kind'], refusedBy?: string): void {
    decisionMetrics.decisions.inc({ outcome: kind });
    if (kind === 'escalate' && refusedBy) decisionMetrics.refusals.inc({ rule: refusedBy });
  }
}

/**
 * Appends the decision's events to the outbox (unless `events` is false: a deferral checked again
 * on unchanged grounds announces nothing) and enqueues its escalation deliveries.
 */
async function announce(m: EntityManager, taken: TakenDecision, about: Announcement, events: boolean): Promise<void> {
  if (events) await appendToOutbox(m, DECISION_SCHEMA, decisionEvents(taken, about));
  await enqueueEscalations(m, taken, about);
}

/** No fallback: a human takes over (the event, and one delivery per escalation target). The row stays `failed`. */
async function escalateFailure(
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
