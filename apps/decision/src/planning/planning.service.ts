import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { newEventId, type Envelope } from '@autoheal/contracts';
import { OutboxPublisher } from '@autoheal/messaging';
import { appendToOutbox, claimInbox } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import { breakerRepository } from '../breaker/breaker.repository.js';
import { availabilityRepository } from '../compliance/availability.repository.js';
import { CLOCK, type Clock } from '../clock.js';
import { breakerOptionsFrom, type DecisionConfig } from '../config.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { INCIDENTS_CONSUMER } from '../decision.consumers.js';
import { decisionMetrics } from '../decision.metrics.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { tenantsRepository } from '../tenants/tenants.repository.js';
import { subjectOf } from './decision-events.js';
import { breakerTrips, mightTripBreaker, shouldTripBreaker, withIncident, type BreakerOptions, type PolicyDecision } from './policy-port.js';
import { remediationsRepository, type IncidentFacts } from './remediations.repository.js';
import { announceDecision, decideOn, readDecisionState } from './take-decision.js';
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
    await this.maybeTripBreaker(event);
    const outcome = await this.outbox.transaction(async (m): Promise<PlanningOutcome> => {
      if (!(await claimInbox(m, DECISION_SCHEMA, INCIDENTS_CONSUMER.durable, event.id))) return { kind: 'duplicate_event' };
      // Every incident counts towards availability, whatever is decided about it.
      await availabilityRepository.recordOpened(m, event.tenantId, event.data);
      await remediationsRepository.lockBreakerSharedThenTenant(m, event.tenantId);
      return this.decide(m, event);
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

  /** Runs under the tenant lock: gathers the guardrail state, stops at an existing decision, asks the policy, stores and announces. */
  private async decide(m: EntityManager, event: Envelope<'incident.opened'>): Promise<PlanningOutcome> {
    const { incidentId, service, instance } = event.data;
    // Read under the locks, the clock too, so that every counted action lies before `now`.
    const now = this.clock.now();
    const facts = incidentFacts(event);
    const state = await readDecisionState(m, event.tenantId, facts, now);
    if (state.existingRemediationId) return { kind: 'already_decided', remediationId: state.existingRemediationId };
    // A new incident has tried nothing yet.
    const taken = decideOn(state, facts, now, { recheckMs: this.recheckMs }, []);
    const { decision, record } = taken;
    const { explanation } = decision;

    const remediationId = newEventId(now.getTime());
    const inserted = await remediationsRepository.insert(m, {
      remediationId,
      incidentId,
      tenantId: event.tenantId,
      service,
      instance,
      action: record.action,
      status: record.status,
      reason: explanation.reason,
      policyVersion: explanation.policyVersion,
      candidates: explanation.candidates,
      refusalRule: record.refusalRule,
      incidentEventId: event.id,
      plannedAt: record.countsAsAutoAction ? now : null,
      decidedAt: now,
      incident: facts,
      openedAt: new Date(facts.openedAt),
      suspectedCause: facts.suspectedCause ?? null,
      decisionKind: decision.kind,
      explanation: explanation as unknown as Record<string, unknown>,
      fallbacks: record.fallbacks,
      emergency: record.emergency,
      expiresAt: record.expiresAt,
      retryAt: record.retryAt,
      deferredAt: record.deferredAt,
    });
    // Unreachable while the lock is held, but the unique index is the guarantee, not the lock.
    if (!inserted) return { kind: 'already_decided', remediationId };

    await announceDecision(m, taken, { subject: subjectOf(event), severity: event.data.severity, remediationId, now, events: true });
    const dryRun = record.status === 'dry_run';
    return { kind: decision.kind, remediationId, dryRun, ...(record.refusalRule ? { refusedBy: record.refusalRule } : {}) };
  }

  /**
   * Opens the global breaker, in its own transaction (before and after the decision), when the incidents
   * still open from the breaker's window — this one included — point at the detector or the
   * network (see shouldTripBreaker). The exclusive lock waits for decisions in progress and is
   * waited on by new ones.
   */
  private async maybeTripBreaker(event: Envelope<'incident.opened'>): Promise<void> {
    const now = this.clock.now();
    const m = this.db.manager;
    const windowStart = new Date(now.getTime() - this.breaker.windowMs);
    const { incidentId, service, instance, suspectedCause, detectedAt } = event.data;
    const self = { incidentId, at: new Date(detectedAt).getTime(), instance: `${event.tenantId}/${service}/${instance}`, ...(suspectedCause ? { suspectedCause } : {}) };
    // Most decisions stop at the counts, without reading the rows or the fleet's size. What
    // arrived before a human resumed was judged by that human: the read starts after the resume.
    const window = await breakerRepository.readWindow(m, windowStart, now, self);
    if (window.open) return;
    // A redelivered incident is stored already and must not count twice; a service-level
    // incident groups instance incidents that count already: it is not one more instance.
    const counted = event.data.scope === 'service' || window.includesIncident;
    const counts = counted ? window : withIncident(window, { ...self, instanceCounted: window.includesInstance }, now.getTime(), this.breaker);
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
