import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { newEventId, type Envelope } from '@autoheal/contracts';
import { OutboxPublisher } from '@autoheal/messaging';
import { appendToOutbox, claimInbox, outboxBatch, outboxBatchStored } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import { breakerRepository, type BreakerWindow, type RecentIncident } from '../breaker/breaker.repository.js';
import { availabilityRepository } from '../compliance/availability.repository.js';
import { CLOCK, type Clock } from '../clock.js';
import { breakerOptionsFrom, type DecisionConfig } from '../config.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { INCIDENTS_CONSUMER } from '../decision.consumers.js';
import { decisionMetrics } from '../decision.metrics.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { tenantsRepository } from '../tenants/tenants.repository.js';
import { subjectOf } from './decision-events.js';
import { breakerTrips, mightTripBreaker, shouldTripBreaker, withIncident, type BreakerCounts, type BreakerOptions, type PolicyDecision } from './policy-port.js';
import { remediationsRepository, type DecisionState, type IncidentFacts } from './remediations.repository.js';
import { decidedFields, decideOn, decisionEvents, decisionStateQuery, enqueueEscalations, type Announcement } from './take-decision.js';
import { rejectedEvent } from '../approvals/approval-events.js';
import { breakerOpenedEvents } from '../breaker/breaker-events.js';

const log = createLogger('decision');

export type PlanningOutcome =
  | { kind: 'duplicate_event' }
  | { kind: 'already_decided'; remediationId: string }
  | { kind: PolicyDecision['kind']; remediationId: string; dryRun: boolean; refusedBy?: string };

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

/** The incident as the breaker counts it (`instance`: tenant/service/instance). */
function breakerSelf(event: Envelope<'incident.opened'>): RecentIncident {
  const { incidentId, service, instance, suspectedCause, detectedAt } = event.data;
  return { incidentId, at: new Date(detectedAt).getTime(), instance: `${event.tenantId}/${service}/${instance}`, ...(suspectedCause ? { suspectedCause } : {}) };
}

/** Rolls an opened incident's transaction back: the breaker is to be checked, and may open, before it is decided. */
class BreakerCheckFirst extends Error {
  constructor() {
    super('the incident would trip the breaker: check it first, then decide');
  }
}

/**
 * Decides what to do about an opened incident (a deferred one is decided again by
 * DeferralsWorker, through the same takeDecision). The decision row, the inbox entry, the events
 * and any escalation deliveries commit together. Under the per-tenant lock the hourly cap,
 * the cooldown and the per-service concurrency cap are counted and the decision inserted, so
 * they hold across processes; the breaker's shared lock makes "open" visible to every decision
 * that starts after it opened; the unique incident id makes one incident yield one decision.
 */
@Injectable()
export class PlanningService {
  private readonly breaker: BreakerOptions;
  private readonly recheckMs: number;

  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DECISION_CONFIG) config: DecisionConfig,
    // Its transactions publish their events right after commit instead of through the relay.
    private readonly outbox: OutboxPublisher,
  ) {
    this.breaker = breakerOptionsFrom(config);
    this.recheckMs = config.DECISION_DEFER_RECHECK_MS;
  }

  async onIncidentOpened(event: Envelope<'incident.opened'>): Promise<PlanningOutcome> {
    const outcome = await this.decideOpened(event, { breakerChecked: false }).catch(async (error: unknown) => {
      if (!(error instanceof BreakerCheckFirst)) throw error;
      // Rolled back: open the breaker (its own transaction, which waits for the shared locks of
      // decisions in progress), then decide again, seeing the breaker as it is now.
      await this.maybeTripBreaker(event);
      return this.decideOpened(event, { breakerChecked: true });
    });
    // Decisions taken at the same time (here or in another process) cannot see each other
    // before they commit, so each looks again after its own commit: whichever commits last
    // sees them all, and a storm trips the breaker even when no single check saw all of it.
    if (outcome.kind !== 'duplicate_event' && outcome.kind !== 'already_decided') await this.maybeTripBreaker(event);

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
        decisionMetrics.decisions.inc({ outcome: outcome.kind });
        if (outcome.kind === 'escalate' && outcome.refusedBy) decisionMetrics.refusals.inc({ rule: outcome.refusedBy });
        log.info({ incidentId: event.data.incidentId, tenantId: event.tenantId, remediationId: outcome.remediationId, outcome: outcome.kind, dryRun: outcome.dryRun }, 'incident decided');
        break;
      default: {
        const unreachable: never = outcome;
        throw new Error(`unhandled planning outcome ${JSON.stringify(unreachable)}`);
      }
    }
    return outcome;
  }

  /**
   * One transaction: the inbox claim, the incident recorded for availability and the locks in
   * one statement, then the decision (decide). Throws BreakerCheckFirst, rolled back, when the
   * incident would trip the breaker and `breakerChecked` is false.
   */
  private decideOpened(event: Envelope<'incident.opened'>, opts: { breakerChecked: boolean }): Promise<PlanningOutcome> {
    return this.outbox.transaction(async (m): Promise<PlanningOutcome> => {
      // Every incident counts towards availability, whatever is decided about it.
      if (!(await remediationsRepository.claimRecordAndLock(m, INCIDENTS_CONSUMER.durable, event))) return { kind: 'duplicate_event' };
      return this.decide(m, event, opts);
    });
  }

  /**
   * Runs under the tenant lock: gathers the guardrail state, checks that the incident does not
   * trip the breaker, stops at an existing decision, asks the policy, stores and announces.
   */
  private async decide(m: EntityManager, event: Envelope<'incident.opened'>, opts: { breakerChecked: boolean }): Promise<PlanningOutcome> {
    const { incidentId, service, instance } = event.data;
    // Read under the locks, the clock too, so that every counted action lies before `now`.
    const now = this.clock.now();
    const facts = incidentFacts(event);
    // A statement of its own, after the one that took the locks: under READ COMMITTED a
    // statement's snapshot is taken when it starts, so only a statement that starts once the
    // locks are granted sees every decision committed before them.
    const query = decisionStateQuery(event.tenantId, facts, now);
    let state: DecisionState;
    if (opts.breakerChecked) {
      state = await remediationsRepository.decisionState(m, query);
    } else {
      // The breaker's check before deciding reads its window in the same statement. Its counts
      // come from the same snapshot as the decision's, one that sees at least what a check
      // before the transaction would have seen.
      const self = breakerSelf(event);
      const read = await remediationsRepository.openedDecisionState(m, { ...query, windowStart: this.windowStart(now), now, instanceKey: self.instance });
      if (await this.wouldTripBreaker(m, event, read.window, now)) throw new BreakerCheckFirst();
      state = read.state;
    }
    if (state.existingRemediationId) return { kind: 'already_decided', remediationId: state.existingRemediationId };
    // A new incident has tried nothing yet.
    const taken = decideOn(state, facts, now, { recheckMs: this.recheckMs }, []);
    const { decision, record } = taken;

    const remediationId = newEventId(now.getTime());
    const announcement: Announcement = { subject: subjectOf(event), severity: event.data.severity, remediationId, now };
    const events = outboxBatch(decisionEvents(taken, announcement));
    const inserted = await remediationsRepository.insertWithEvents(
      m,
      {
        remediationId,
        incidentId,
        tenantId: event.tenantId,
        service,
        instance,
        incidentEventId: event.id,
        incident: facts,
        openedAt: new Date(facts.openedAt),
        suspectedCause: facts.suspectedCause ?? null,
        // A new incident was never deferred before.
        ...decidedFields(taken, now, null),
      },
      events,
    );
    // Unreachable while the lock is held, but the unique index is the guarantee, not the lock.
    if (!inserted) return { kind: 'already_decided', remediationId };

    await outboxBatchStored(m, DECISION_SCHEMA, events);
    await enqueueEscalations(m, taken, announcement);
    const dryRun = record.status === 'dry_run';
    return { kind: decision.kind, remediationId, dryRun, ...(record.refusalRule ? { refusedBy: record.refusalRule } : {}) };
  }

  private windowStart(now: Date): Date {
    return new Date(now.getTime() - this.breaker.windowMs);
  }

  /**
   * Whether the breaker's window, with this incident added, trips it (see maybeTripBreaker); most
   * decisions stop at the counts, without the fleet's size.
   */
  private async wouldTripBreaker(m: EntityManager, event: Envelope<'incident.opened'>, window: BreakerWindow, now: Date): Promise<boolean> {
    if (window.open) return false;
    const counts = this.countsWithIncident(event, window, now);
    if (!mightTripBreaker(counts, this.breaker)) return false;
    return breakerTrips(counts, await tenantsRepository.fleetSize(m), this.breaker);
  }

  /**
   * The window's counts with the incident being decided. A redelivered incident is stored already
   * and must not count twice; a service-level incident groups instance incidents that count
   * already: it is not one more instance.
   */
  private countsWithIncident(event: Envelope<'incident.opened'>, window: BreakerWindow, now: Date): BreakerCounts {
    const counted = event.data.scope === 'service' || window.includesIncident;
    return counted ? window : withIncident(window, { ...breakerSelf(event), instanceCounted: window.includesInstance }, now.getTime(), this.breaker);
  }

  /**
   * Opens the global breaker, in its own transaction, when the incidents still open from the
   * breaker's window — this one included — point at the detector or the network (see
   * shouldTripBreaker): before the decision when the decision's own reading of the window says it
   * would (decide), and after every decision. The exclusive lock waits for decisions in progress
   * and is waited on by new ones.
   */
  private async maybeTripBreaker(event: Envelope<'incident.opened'>): Promise<void> {
    const now = this.clock.now();
    const m = this.db.manager;
    const windowStart = this.windowStart(now);
    const { incidentId } = event.data;
    const self = breakerSelf(event);
    // Most decisions stop at the counts, without reading the rows or the fleet's size. What
    // arrived before a human resumed was judged by that human: the read starts after the resume.
    const window = await breakerRepository.readWindow(m, windowStart, now, self);
    if (window.open) return;
    const counts = this.countsWithIncident(event, window, now);
    if (!mightTripBreaker(counts, this.breaker)) return;
    const fleetSize = await tenantsRepository.fleetSize(m);
    if (!breakerTrips(counts, fleetSize, this.breaker)) return;
    // About to trip: the reason names the suspected causes, so read the rows and decide on them.
    const { open, incidents: stored } = await breakerRepository.readWithRecentIncidents(m, windowStart);
    if (open) return;
    const recent = event.data.scope === 'service' || stored.some((r) => r.incidentId === incidentId) ? stored : [...stored, self];
    const verdict = shouldTripBreaker(recent, fleetSize, now.getTime(), this.breaker);
    if (!verdict.trip) return;
    const opened = await this.outbox.transaction(async (tx) => {
      await breakerRepository.lockExclusive(tx);
      if (!(await breakerRepository.open(tx, verdict.reason, now))) return false;
      await appendToOutbox(tx, DECISION_SCHEMA, breakerOpenedEvents(await tenantsRepository.tenantIds(tx), verdict.reason, now, incidentId));
      return true;
    });
    if (opened) {
      decisionMetrics.breakerTrips.inc();
      log.warn({ reason: verdict.reason, incidentId }, 'circuit breaker opened: automatic actions stop until a human resumes');
    }
  }

  /**
   * An update changes nothing about a decision already taken; what it may add is the suspicion
   * that the detector or the network failed, not the instance — and then the incident is not
   * downtime. Recording it twice changes nothing, so no inbox entry is needed.
   */
  async onIncidentUpdated(event: Envelope<'incident.updated'>): Promise<void> {
    await availabilityRepository.recordUpdated(this.db.manager, event.tenantId, event.data);
  }

  /**
   * Records that the incident ended. What was still waiting is closed without action: a deferred
   * decision, or an approval nobody gave yet — which is announced as rejected by the system, so
   * the audit trail shows why it never ran, and frees its place under the concurrency cap.
   */
  async onIncidentResolved(event: Envelope<'incident.resolved'>): Promise<void> {
    const closed = await this.outbox.transaction(async (m): Promise<'deferral' | 'approval' | null> => {
      if (!(await claimInbox(m, DECISION_SCHEMA, INCIDENTS_CONSUMER.durable, event.id))) return null;
      await availabilityRepository.recordResolved(m, event.tenantId, event.data);
      const at = new Date(event.data.resolvedAt);
      if (await remediationsRepository.closeDeferral(m, event.data.incidentId, at)) return 'deferral';
      await remediationsRepository.markIncidentResolved(m, event.data.incidentId, at);
      const row = await remediationsRepository.findByIncident(m, event.data.incidentId);
      if (row?.status !== 'awaiting_approval') return null;
      const reason = 'the incident resolved before anyone approved';
      const rejected = await remediationsRepository.review(m, row.remediationId, 'rejected', 'system', at, reason);
      if (!rejected) return null;
      await appendToOutbox(m, DECISION_SCHEMA, [rejectedEvent(rejected, 'system', reason, at)]);
      await remediationsRepository.hastenDeferrals(m, rejected.tenantId, rejected.service, at);
      return 'approval';
    });
    if (closed) log.info({ incidentId: event.data.incidentId, tenantId: event.tenantId, closed }, 'incident resolved while waiting; closed without action');
  }
}
