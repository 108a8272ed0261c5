import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { mayAccessTenant, type TenantScope } from '@autoheal/access';
import type { BreakerScope } from '@autoheal/contracts';
import { OutboxPublisher } from '@autoheal/messaging';
import { createLogger } from '@autoheal/telemetry';
import { AdminReads } from '../admin/admin-reads.js';
import { CLOCK, type Clock } from '../clock.js';
import { appendToOutbox } from '@autoheal/persistence';
import { breakerOptionsFrom, type DecisionConfig } from '../config.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { decisionMetrics } from '../decision.metrics.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { globalBreakerVerdict, stormingTenants, type BreakerOptions } from '../planning/policy-port.js';
import { remediationsRepository } from '../planning/remediations.repository.js';
import { tenantsRepository } from '../tenants/tenants.repository.js';
import { breakerOpenedEvents, breakerResumedEvents } from './breaker-events.js';
import { instanceKeyOf, judgeWindow, wouldTrip, type BreakerIncident } from './breaker-judgement.js';
import { breakerRepository, type BreakerState, type BreakerWindow, type TenantBreakerState } from './breaker.repository.js';

const log = createLogger('decision');

/** The global breaker and every tenant breaker that ever opened (open ones first). */
export type BreakerOverview = BreakerState & { tenants: TenantBreakerState[] };

/**
 * What the breakers say about an incident's tenant after a check: whether one holds its
 * decisions (open before, or opened by this check), which, why, and what this check opened.
 */
export interface BreakerVerdict {
  open: boolean;
  scope: BreakerScope | null;
  reason: string | null;
  /** The breakers this check opened, tenant's first. */
  opened: BreakerScope[];
}

/**
 * The circuit breakers' one owner: it judges whether an incident trips a breaker (before the
 * decision, from the window the decision read under its locks, and after the decision's commit,
 * from a window of its own), opens them, and lets an operator read and resume them. The rules
 * are pure (policy/circuit-breaker.ts, judged through breaker-judgement.ts); SQL only counts.
 */
@Injectable()
export class BreakerService {
  private readonly options: BreakerOptions;

  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly reads: AdminReads,
    @Inject(DECISION_CONFIG) config: DecisionConfig,
    // A breaker's opening is published right after commit, not through the relay.
    private readonly outbox: OutboxPublisher,
  ) {
    this.options = breakerOptionsFrom(config);
  }

  /** Where a tenant's breaker window starts, for a reading at `now`. */
  windowStart(now: Date): Date {
    return new Date(now.getTime() - this.options.windowMs);
  }

  /**
   * Before the incident is decided, from the window its decision read under its locks: whether it
   * would open a breaker (then the decision rolls back, check() runs and the decision is taken
   * again, seeing the breakers as they are then).
   */
  wouldTrip(incident: BreakerIncident, window: BreakerWindow, now: Date): boolean {
    return wouldTrip(judgeWindow(incident, window, now, this.options), window);
  }

  /**
   * Opens the tenant's breaker, then the global one, each in its own transaction, when the
   * incidents still failing in the window — this one included — say so; returns the verdict.
   * Runs before a decision whose own reading said it would trip, and after every decision of an
   * opened incident: decisions taken at the same time (here or in another process) cannot see
   * each other before they commit, so whichever commits last sees them all. Opening the tenant's
   * breaker takes the locks its decisions take; opening the global one takes its lock
   * exclusively: decisions in progress finish first, new ones wait.
   */
  async check(incident: BreakerIncident): Promise<BreakerVerdict> {
    const now = this.clock.now();
    const m = this.db.manager;
    const windowStart = this.windowStart(now);
    // Most decisions stop here, at one statement that counts in SQL. What arrived before a human
    // resumed was judged by that human: the counts start after the resume.
    const window = await breakerRepository.readWindow(m, incident.tenantId, windowStart, now, { incidentId: incident.incidentId, instance: instanceKeyOf(incident) });
    if (window.globalOpen) return { open: true, scope: 'global', reason: window.globalReason, opened: [] };
    const judged = judgeWindow(incident, window, now, this.options);
    const opened: BreakerScope[] = [];
    let tenant: { open: boolean; reason: string | null } = { open: window.tenantOpen, reason: window.tenantReason };
    if (judged.tenantTrip) {
      if (await this.openTenant(incident, judged.tenantTrip.reason, now)) opened.push('tenant');
      tenant = { open: true, reason: judged.tenantTrip.reason };
    }
    const global = judged.mightTripGlobal ? await this.maybeOpenGlobal(incident, judged, windowStart, now) : null;
    if (global?.opened) opened.push('global');
    if (global?.open) return { open: true, scope: 'global', reason: global.reason, opened };
    return tenant.open ? { open: true, scope: 'tenant', reason: tenant.reason, opened } : { open: false, scope: null, reason: null, opened };
  }

  /** Reads the global count and opens the global breaker when its rule says so. */
  private async maybeOpenGlobal(
    incident: BreakerIncident,
    judged: ReturnType<typeof judgeWindow>,
    windowStart: Date,
    now: Date,
  ): Promise<{ open: boolean; opened: boolean; reason: string | null }> {
    const global = await breakerRepository.readGlobalWindow(this.db.manager, windowStart, now);
    if (global.open) return { open: true, opened: false, reason: null };
    // The incident may not be stored yet (checked before its decision): its tenant counts as its own window says.
    const tenants = global.tenants.filter((t) => t.tenantId !== incident.tenantId);
    if (judged.countsGlobally) tenants.push({ tenantId: incident.tenantId, declaredInstances: incident.declaredInstances, failing: judged.own.failing });
    const suspectedCauses = [...global.suspectedCauses, ...judged.selfSuspected];
    const verdict = globalBreakerVerdict(
      { suspected: suspectedCauses.length, suspectedCauses, storming: stormingTenants(tenants, this.options), declaredTenants: global.declaredTenants },
      this.options,
    );
    if (!verdict.trip) return { open: false, opened: false, reason: null };
    const opened = await this.outbox.transaction(async (tx) => {
      await breakerRepository.lockExclusive(tx);
      if (!(await breakerRepository.open(tx, verdict.reason, now))) return false;
      await appendToOutbox(tx, DECISION_SCHEMA, breakerOpenedEvents(await tenantsRepository.tenantIds(tx), verdict.reason, now, incident.incidentId, 'global'));
      return true;
    });
    if (opened) {
      decisionMetrics.breakerTrips.inc();
      log.warn({ reason: verdict.reason, incidentId: incident.incidentId }, 'global circuit breaker opened: automatic actions stop for every tenant until a human resumes');
    }
    return { open: true, opened, reason: verdict.reason };
  }

  /** Opens the tenant's breaker under the locks its decisions take; its event goes to that tenant's trail only. */
  private async openTenant(incident: BreakerIncident, reason: string, now: Date): Promise<boolean> {
    const { tenantId, incidentId } = incident;
    const opened = await this.outbox.transaction(async (tx) => {
      await remediationsRepository.lockBreakerSharedThenTenant(tx, tenantId);
      if (!(await breakerRepository.openTenant(tx, tenantId, reason, now))) return false;
      await appendToOutbox(tx, DECISION_SCHEMA, breakerOpenedEvents([tenantId], reason, now, incidentId, 'tenant'));
      return true;
    });
    if (opened) {
      decisionMetrics.tenantBreakerTrips.inc({ tenant: tenantId });
      log.warn({ tenantId, reason, incidentId }, "tenant's circuit breaker opened: its automatic actions stop until a human resumes");
    }
    return opened;
  }

  /**
   * The global breaker and the breakers of the tenants in `scope`: read on the admin API's read
   * pool, where row-level security shows only those tenants' rows.
   */
  async state(scope: TenantScope): Promise<BreakerOverview> {
    return this.reads.read(scope, null, async (m) => {
      const tenants = await breakerRepository.listTenants(m);
      // Row-level security has kept the others out already; this holds when the pool falls back to the service's role.
      return { ...(await breakerRepository.read(m)), tenants: tenants.filter((t) => mayAccessTenant({ tenantScope: scope }, t.tenantId)) };
    });
  }

  /** Closes the global breaker (waiting for decisions in progress); `resumed` is false when it was closed. */
  async resume(by: string, reason: string): Promise<BreakerState & { resumed: boolean }> {
    return this.db.transaction(async (m) => {
      await breakerRepository.lockExclusive(m);
      const before = await breakerRepository.read(m);
      const now = this.clock.now();
      const resumed = await breakerRepository.resume(m, by, now);
      if (resumed) {
        await appendToOutbox(m, DECISION_SCHEMA, breakerResumedEvents(await tenantsRepository.tenantIds(m), by, reason, now, before, 'global'));
        log.warn({ by, reason, openedFor: before.reason }, 'global circuit breaker resumed by a human');
      }
      return { ...(await breakerRepository.read(m)), resumed };
    });
  }

  /**
   * Closes one tenant's breaker, under the locks that tenant's decisions take (so a decision in
   * progress finishes first); `resumed` is false when it was not open — an unknown tenant
   * included, for which nothing is created. `by` is the actor as the caller authenticated it.
   */
  async resumeTenant(tenantId: string, by: string, reason: string): Promise<TenantBreakerState & { resumed: boolean }> {
    return this.db.transaction(async (m) => {
      await remediationsRepository.lockBreakerSharedThenTenant(m, tenantId);
      const before = await breakerRepository.readTenant(m, tenantId);
      const now = this.clock.now();
      const resumed = await breakerRepository.resumeTenant(m, tenantId, by, now);
      if (resumed) {
        await appendToOutbox(m, DECISION_SCHEMA, breakerResumedEvents([tenantId], by, reason, now, before, 'tenant'));
        log.warn({ tenantId, by, reason, openedFor: before.reason }, "tenant's circuit breaker resumed by a human");
      }
      return { ...(await breakerRepository.readTenant(m, tenantId)), resumed };
    });
  }
}
