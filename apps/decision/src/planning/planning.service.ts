import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { newEventId, type Envelope } from '@autoheal/contracts';
import { OutboxPublisher } from '@autoheal/messaging';
import { appendToOutbox, claimInbox, outboxBatch, outboxBatchStored } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import { breakerRepository, type BreakerWindow } from '../breaker/breaker.repository.js';
import { availabilityRepository } from '../compliance/availability.repository.js';
import { CLOCK, type Clock } from '../clock.js';
import { breakerOptionsFrom, type DecisionConfig } from '../config.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { INCIDENTS_CONSUMER } from '../decision.consumers.js';
import { decisionMetrics } from '../decision.metrics.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { tenantsRepository } from '../tenants/tenants.repository.js';
import { subjectOf } from './decision-events.js';
import {
  declaredInstanceCount,
  globalBreakerVerdict,
  inBreakerWindow,
  inventoryStanding,
  mightTripGlobal,
  stormingTenants,
  tenantBreakerVerdict,
  tenantStorms,
  withIncident,
  type BreakerOptions,
  type InventoryStanding,
  type PolicyDecision,
  type TenantWindow,
} from './policy-port.js';
import { countVerified, recordVerified } from '../outcomes/verification.js';
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

/** The incident as a tenant's breaker window names it (`instance`: service/instance). */
function breakerSelf(event: Envelope<'incident.opened'>): { incidentId: string; instance: string } {
  return { incidentId: event.data.incidentId, instance: `${event.data.service}/${event.data.instance}` };
}

/** How the incident stood against its tenant's inventory when decided: what it counts toward. */
interface BreakerFacts {
  standing: InventoryStanding;
  declaredInstances: number;
}

function breakerFactsOf(state: DecisionState, event: Envelope<'incident.opened'>): BreakerFacts {
  const inventory = state.tenant?.document.inventory ?? null;
  return { standing: inventoryStanding(inventory, event.data.service, event.data.instance), declaredInstances: declaredInstanceCount(inventory) };
}

/** Rolls an opened incident's transaction back: a breaker is to be checked, and may open, before it is decided. */
class BreakerCheckFirst extends Error {
  constructor(readonly facts: BreakerFacts) {
    super('the incident would trip a breaker: check it first, then decide');
  }
}

type Decided = PlanningOutcome & { breaker?: BreakerFacts };

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
    const { breaker, ...outcome } = await this.decideOpened(event, { breakerChecked: false }).catch(async (error: unknown): Promise<Decided> => {
      if (!(error instanceof BreakerCheckFirst)) throw error;
      // Rolled back: open the breaker (its own transaction, which waits for the locks of
      // decisions in progress), then decide again, seeing the breakers as they are now.
      await this.maybeTripBreakers(event, error.facts);
      return this.decideOpened(event, { breakerChecked: true });
    });
    // Decisions taken at the same time (here or in another process) cannot see each other
    // before they commit, so each looks again after its own commit: whichever commits last
    // sees them all, and a storm trips a breaker even when no single check saw all of it.
    if (breaker) await this.maybeTripBreakers(event, breaker);
    if (breaker?.standing === 'undeclared') {
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
        decisionMetrics.decisions.inc({ outcome: outcome.kind });
        decisionMetrics.decisionLatency.observe({ outcome: outcome.kind }, Math.max(0, this.clock.now().getTime() - Date.parse(event.data.detectedAt)) / 1000);
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
  private decideOpened(event: Envelope<'incident.opened'>, opts: { breakerChecked: boolean }): Promise<Decided> {
    return this.outbox.transaction(async (m): Promise<Decided> => {
      // Every incident counts towards availability, whatever is decided about it.
      if (!(await remediationsRepository.claimRecordAndLock(m, INCIDENTS_CONSUMER.durable, event))) return { kind: 'duplicate_event' };
      return this.decide(m, event, opts);
    });
  }

  /**
   * Runs under the tenant lock: gathers the guardrail state, checks that the incident does not
   * trip the breaker, stops at an existing decision, asks the policy, stores and announces.
   */
  private async decide(m: EntityManager, event: Envelope<'incident.opened'>, opts: { breakerChecked: boolean }): Promise<Decided> {
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
      const read = await remediationsRepository.openedDecisionState(m, { ...query, windowStart: this.windowStart(now), now, instanceKey: breakerSelf(event).instance });
      const facts = breakerFactsOf(read.state, event);
      if (!read.state.existingRemediationId && this.wouldTripBreaker(event, read.window, facts, now)) throw new BreakerCheckFirst(facts);
      state = read.state;
    }
    if (state.existingRemediationId) return { kind: 'already_decided', remediationId: state.existingRemediationId };
    const breaker = breakerFactsOf(state, event);
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
        breakerStanding: breaker.standing,
      },
      events,
    );
    // Unreachable while the lock is held, but the unique index is the guarantee, not the lock.
    if (!inserted) return { kind: 'already_decided', remediationId };

    await outboxBatchStored(m, DECISION_SCHEMA, events);
    await enqueueEscalations(m, taken, announcement);
    const dryRun = record.status === 'dry_run';
    return { kind: decision.kind, remediationId, dryRun, ...(record.refusalRule ? { refusedBy: record.refusalRule } : {}), breaker };
  }

  private windowStart(now: Date): Date {
    return new Date(now.getTime() - this.breaker.windowMs);
  }

  /**
   * The tenant's window with the incident being decided. A redelivered incident is stored already
   * and must not count twice; a service-level incident groups instance incidents that count
   * already; an undeclared one counts toward nothing.
   */
  private tenantWindow(event: Envelope<'incident.opened'>, window: BreakerWindow, facts: BreakerFacts, now: Date): TenantWindow {
    return withIncident(
      { declaredInstances: facts.declaredInstances, failing: window.failing },
      { at: new Date(event.data.detectedAt).getTime(), standing: facts.standing, serviceLevel: event.data.scope === 'service', alreadyCounted: window.includesIncident || window.includesInstance },
      now.getTime(),
      this.breaker,
    );
  }

  /** The window's suspected-fault count with the incident being decided, when it counts and is not stored yet. */
  private suspectedWith(event: Envelope<'incident.opened'>, window: BreakerWindow, facts: BreakerFacts, now: Date): string[] {
    const { suspectedCause, detectedAt } = event.data;
    const adds = suspectedCause !== undefined && !window.includesIncident && facts.standing !== 'undeclared' && inBreakerWindow(new Date(detectedAt).getTime(), now.getTime(), this.breaker);
    return adds ? [suspectedCause] : [];
  }

  /**
   * Whether the incident, added to its tenant's window, would open a breaker (see
   * maybeTripBreakers): its tenant's, when the tenant's own window storms; the global one, when
   * the suspected-fault count reaches its threshold. Several tenants storming can only start with
   * one of them starting to storm, which this sees; the check after commit catches the rest.
   */
  private wouldTripBreaker(event: Envelope<'incident.opened'>, window: BreakerWindow, facts: BreakerFacts, now: Date): boolean {
    if (window.globalOpen) return false;
    if (!window.tenantOpen && tenantStorms(this.tenantWindow(event, window, facts, now), this.breaker)) return true;
    return window.suspected + this.suspectedWith(event, window, facts, now).length >= this.breaker.minSuspected;
  }

  /**
   * Opens the tenant's breaker, then the global one, each in its own transaction, when the
   * incidents still failing in the window — this one included — say so (policy/circuit-breaker.ts):
   * before the decision when the decision's own reading of the window says it would (decide), and
   * after every decision. Opening the tenant's breaker takes the locks its decisions take; opening
   * the global one takes its lock exclusively: decisions in progress finish first, new ones wait.
   */
  private async maybeTripBreakers(event: Envelope<'incident.opened'>, facts: BreakerFacts): Promise<void> {
    const now = this.clock.now();
    const m = this.db.manager;
    const windowStart = this.windowStart(now);
    const { tenantId } = event;
    const { incidentId } = event.data;
    // Most decisions stop here, at one statement that counts in SQL. What arrived before a human
    // resumed was judged by that human: the counts start after the resume.
    const window = await breakerRepository.readWindow(m, tenantId, windowStart, now, breakerSelf(event));
    if (window.globalOpen) return;
    const own = this.tenantWindow(event, window, facts, now);
    const storming = tenantStorms(own, this.breaker);
    if (storming && !window.tenantOpen) await this.openTenantBreaker(tenantId, own, now, incidentId);
    const selfSuspected = this.suspectedWith(event, window, facts, now);
    // Only a tenant whose declared inventory storms counts toward the global breaker.
    const countsGlobally = storming && facts.declaredInstances > 0;
    if (!mightTripGlobal(window.suspected + selfSuspected.length, countsGlobally, this.breaker)) return;

    const global = await breakerRepository.readGlobalWindow(m, windowStart, now);
    if (global.open) return;
    // The incident may not be stored yet (checked before its decision): its tenant counts as its own window says.
    const tenants = global.tenants.filter((t) => t.tenantId !== tenantId);
    if (countsGlobally) tenants.push({ tenantId, declaredInstances: facts.declaredInstances, failing: own.failing });
    const suspectedCauses = [...global.suspectedCauses, ...selfSuspected];
    const verdict = globalBreakerVerdict(
      { suspected: suspectedCauses.length, suspectedCauses, storming: stormingTenants(tenants, this.breaker), declaredTenants: global.declaredTenants },
      this.breaker,
    );
    if (!verdict.trip) return;
    const opened = await this.outbox.transaction(async (tx) => {
      await breakerRepository.lockExclusive(tx);
      if (!(await breakerRepository.open(tx, verdict.reason, now))) return false;
      await appendToOutbox(tx, DECISION_SCHEMA, breakerOpenedEvents(await tenantsRepository.tenantIds(tx), verdict.reason, now, incidentId, 'global'));
      return true;
    });
    if (opened) {
      decisionMetrics.breakerTrips.inc();
      log.warn({ reason: verdict.reason, incidentId }, 'global circuit breaker opened: automatic actions stop for every tenant until a human resumes');
    }
  }

  /** Opens the tenant's breaker under the locks its decisions take; its event goes to that tenant's trail only. */
  private async openTenantBreaker(tenantId: string, own: TenantWindow, now: Date, incidentId: string): Promise<void> {
    const verdict = tenantBreakerVerdict(tenantId, own, this.breaker);
    const opened = await this.outbox.transaction(async (tx) => {
      await remediationsRepository.lockBreakerSharedThenTenant(tx, tenantId);
      if (!(await breakerRepository.openTenant(tx, tenantId, verdict.reason, now))) return false;
      await appendToOutbox(tx, DECISION_SCHEMA, breakerOpenedEvents([tenantId], verdict.reason, now, incidentId, 'tenant'));
      return true;
    });
    if (opened) {
      decisionMetrics.tenantBreakerTrips.inc({ tenant: tenantId });
      log.warn({ tenantId, reason: verdict.reason, incidentId }, "tenant's circuit breaker opened: its automatic actions stop until a human resumes");
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
    const closed = await this.outbox.transaction(async (m): Promise<'deferral' | 'approval' | Envelope<'remediation.verified'> | null> => {
      if (!(await claimInbox(m, DECISION_SCHEMA, INCIDENTS_CONSUMER.durable, event.id))) return null;
      await availabilityRepository.recordResolved(m, event.tenantId, event.data);
      const at = new Date(event.data.resolvedAt);
      if (await remediationsRepository.closeDeferral(m, event.data.incidentId, at)) return 'deferral';
      await remediationsRepository.markIncidentResolved(m, event.data.incidentId, at);
      const row = await remediationsRepository.findByIncident(m, event.data.incidentId);
      // The action the driver reported done is proven by the incident resolving (a remediation
      // still running is verified when its success arrives: the row remembers the resolution).
      if (row?.status === 'verifying') return recordVerified(m, row, at, event.id);
      if (row?.status !== 'awaiting_approval') return null;
      const reason = 'the incident resolved before anyone approved';
      const rejected = await remediationsRepository.review(m, row.remediationId, 'rejected', 'system', at, reason);
      if (!rejected) return null;
      await appendToOutbox(m, DECISION_SCHEMA, [rejectedEvent(rejected, 'system', reason, at)]);
      await remediationsRepository.hastenDeferrals(m, rejected.tenantId, rejected.service, at);
      return 'approval';
    });
    if (typeof closed === 'object' && closed !== null) {
      countVerified(closed);
      log.info({ incidentId: event.data.incidentId, tenantId: event.tenantId }, 'incident resolved after its remediation: verified');
    } else if (closed) log.info({ incidentId: event.data.incidentId, tenantId: event.tenantId, closed }, 'incident resolved while waiting; closed without action');
  }
}
