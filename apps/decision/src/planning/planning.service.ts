import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Envelope } from '@autoheal/contracts';
import { OutboxPublisher } from '@autoheal/messaging';
import { appendToOutbox, claimInbox } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import { availabilityRepository } from '../compliance/availability.repository.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { INCIDENTS_CONSUMER } from '../decision.consumers.js';
import { countVerified, recordVerified } from '../outcomes/verification.js';
import { remediationsRepository } from './remediations.repository.js';
import { rejectedEvent } from '../approvals/approval-events.js';
import { DecisionRunner, type OpenedOutcome } from './decision-runner.js';

const log = createLogger('decision');

export type PlanningOutcome = OpenedOutcome;

/**
 * What the incident stream means to the decision service: an opened incident is decided (by the
 * DecisionRunner, the one path every decision takes); an update may mark it a suspected fault of
 * the observer; a resolution verifies what was done or closes what was still waiting.
 */
@Injectable()
export class PlanningService {
  constructor(
    private readonly db: DataSource,
    // Its transactions publish their events right after commit instead of through the relay.
    private readonly outbox: OutboxPublisher,
    private readonly runner: DecisionRunner,
  ) {}

  onIncidentOpened(event: Envelope<'incident.opened'>): Promise<PlanningOutcome> {
    return this.runner.run({ kind: 'incident_opened', event });
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
