import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { newEventId, type Envelope } from '@autoheal/contracts';
import { appendToOutbox, claimInbox } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import { CLOCK, type Clock } from '../clock.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { INCIDENTS_CONSUMER } from '../decision.consumers.js';
import { decisionMetrics } from '../decision.metrics.js';
import { NO_POLICY_VERSION } from '../tenants/policy-version.js';
import { tenantsRepository } from '../tenants/tenants.repository.js';
import { eventsForDecision } from './decision-events.js';
import { planRemediation, type ComplianceRule } from './plan-remediation.js';
import { remediationsRepository } from './remediations.repository.js';

const log = createLogger('decision');
const HOUR_MS = 60 * 60_000;

export type PlanningOutcome =
  | { kind: 'duplicate_event' }
  | { kind: 'already_decided'; remediationId: string }
  | { kind: 'planned'; remediationId: string }
  | { kind: 'escalated'; remediationId: string; refusedBy?: ComplianceRule };

/**
 * Decides what to do about an opened incident. The decision row, the inbox entry and the
 * events commit together; the per-tenant lock makes the hourly cap hold across processes,
 * and the unique incident id makes one incident yield one decision however it is delivered.
 */
@Injectable()
export class PlanningService {
  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async onIncidentOpened(event: Envelope<'incident.opened'>): Promise<PlanningOutcome> {
    const outcome = await this.db.transaction(async (m): Promise<PlanningOutcome> => {
      if (!(await claimInbox(m, DECISION_SCHEMA, INCIDENTS_CONSUMER.durable, event.id))) return { kind: 'duplicate_event' };
      const { incidentId, service, instance, kind } = event.data;
      await remediationsRepository.lockTenant(m, event.tenantId);
      const existing = await remediationsRepository.findByIncident(m, incidentId);
      if (existing) return { kind: 'already_decided', remediationId: existing.remediationId };

      // Read under the lock: the clock too, so that every counted action lies before `now`.
      const now = this.clock.now();
      const tenant = await tenantsRepository.find(m, event.tenantId);
      const actionsInLastHour = tenant ? await remediationsRepository.countAutoActionsSince(m, event.tenantId, new Date(now.getTime() - HOUR_MS)) : 0;
      const decision = planRemediation({ incident: { kind, service, instance }, profile: tenant?.profile ?? null, actionsInLastHour, now });

      const remediationId = newEventId(now.getTime());
      const policyVersion = tenant?.policyVersion ?? NO_POLICY_VERSION;
      const planned = decision.kind === 'plan';
      const inserted = await remediationsRepository.insert(m, {
        remediationId,
        incidentId,
        tenantId: event.tenantId,
        service,
        instance,
        action: planned ? decision.action : (decision.refusal?.action ?? decision.candidates[0]?.action ?? null),
        status: planned ? 'planned' : 'escalated',
        reason: decision.reason,
        policyVersion,
        candidates: decision.candidates,
        refusalRule: planned ? null : (decision.refusal?.rule ?? null),
        incidentEventId: event.id,
        plannedAt: planned ? now : null,
        decidedAt: now,
      });
      // Unreachable while the lock is held, but the unique index is the guarantee, not the lock.
      if (!inserted) return { kind: 'already_decided', remediationId };

      await appendToOutbox(m, DECISION_SCHEMA, eventsForDecision(decision, { incident: event, remediationId, policyVersion, now }));
      return planned ? { kind: 'planned', remediationId } : { kind: 'escalated', remediationId, refusedBy: decision.refusal?.rule };
    });

    switch (outcome.kind) {
      case 'planned':
      case 'escalated':
        decisionMetrics.decisions.inc({ outcome: outcome.kind });
        if (outcome.kind === 'escalated' && outcome.refusedBy) decisionMetrics.refusals.inc({ rule: outcome.refusedBy });
        log.info({ incidentId: event.data.incidentId, tenantId: event.tenantId, remediationId: outcome.remediationId, outcome: outcome.kind }, 'incident decided');
        break;
      case 'already_decided':
        log.info({ incidentId: event.data.incidentId, eventId: event.id }, 'incident already decided; nothing to do');
        break;
      case 'duplicate_event':
        break;
      default: {
        const unreachable: never = outcome;
        throw new Error(`unhandled planning outcome ${JSON.stringify(unreachable)}`);
      }
    }
    return outcome;
  }

  /** Records that the incident ended, for the decision's history; no action follows. */
  async onIncidentResolved(event: Envelope<'incident.resolved'>): Promise<void> {
    await this.db.transaction(async (m) => {
      if (!(await claimInbox(m, DECISION_SCHEMA, INCIDENTS_CONSUMER.durable, event.id))) return;
      await remediationsRepository.markIncidentResolved(m, event.data.incidentId, new Date(event.data.resolvedAt));
    });
  }
}
