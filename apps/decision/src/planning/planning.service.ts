import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Envelope } from '@autoheal/contracts';
import { OutboxPublisher } from '@autoheal/messaging';
import { appendToOutbox, claimInbox } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import { availabilityRepository } from '../compliance/availability.repository.js';
import { CLOCK, type Clock } from '../clock.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { INCIDENTS_CONSUMER } from '../decision.consumers.js';
import { recordResolution } from '../outcomes/verification.js';
import { remediationsRepository } from './remediations.repository.js';
import { rejectedEvent } from '../approvals/approval-events.js';
import { DecisionRunner, type OpenedOutcome } from './decision-runner.js';
import { armNamedBy, switchoverArmsRepository } from '../switchover-arms/switchover-arms.repository.js';

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
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * A new incident on a target whose fix is being held for its verify window is first a relapse
   * of that fix (its verification fails, its fallback is decided); then it is decided itself. Both
   * go through the DecisionRunner, each in its own transaction; the first changes nothing when
   * taken again for a redelivered event (the hold is gone).
   */
  async onIncidentOpened(event: Envelope<'incident.opened'>): Promise<PlanningOutcome> {
    await this.markArmUsed(event);
    await this.runner.run({ kind: 'verification_relapsed', event });
    return this.runner.run({ kind: 'incident_opened', event });
  }

  /**
   * The agent healed this crash on its own under an arm (the exit named it, the detector passed
   * it on as evidence): the arm is used from now, whatever becomes of the incident's restart — so
   * an arm spent on a process that never came up (its restart then fails) is not renewed as if it
   * still held. Marking it again (a redelivery, the restart's success naming it) changes nothing.
   */
  private async markArmUsed(event: Envelope<'incident.opened'>): Promise<void> {
    const arm = armNamedBy(event.data.evidence);
    if (!arm) return;
    await this.outbox.transaction((m) => switchoverArmsRepository.markUsed(m, arm, event.data.incidentId, this.clock.now()));
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
    const closed = await this.outbox.transaction(async (m): Promise<'deferral' | 'approval' | 'verified' | 'holding' | null> => {
      if (!(await claimInbox(m, DECISION_SCHEMA, INCIDENTS_CONSUMER.durable, event.id))) return null;
      await availabilityRepository.recordResolved(m, event.tenantId, event.data);
      const at = new Date(event.data.resolvedAt);
      // A relapse that broke another remediation's verify window is over: the fallback that took
      // over there is verified by it (or starts its own window).
      const relapsed = await remediationsRepository.markRelapseResolved(m, event.data.incidentId, at);
      if (relapsed?.status === 'verifying') await recordResolution(m, relapsed, at, event.id);
      // A fallback still waiting for its turn there has nothing left to fix.
      else if (relapsed?.status === 'deferred') await remediationsRepository.closeDeferral(m, relapsed.incidentId, at);
      if (await remediationsRepository.closeDeferral(m, event.data.incidentId, at)) return 'deferral';
      await remediationsRepository.markIncidentResolved(m, event.data.incidentId, at);
      const row = await remediationsRepository.findByIncident(m, event.data.incidentId);
      // The action the driver reported done is proven by the incident resolving, at once or after
      // the playbook's verify window (a remediation still running is judged when its success
      // arrives: the row remembers the resolution).
      if (row?.status === 'verifying') return recordResolution(m, row, at, event.id);
      if (row?.status !== 'awaiting_approval') return null;
      const reason = 'the incident resolved before anyone approved';
      const rejected = await remediationsRepository.review(m, row.remediationId, 'rejected', 'system', at, reason);
      if (!rejected) return null;
      await appendToOutbox(m, DECISION_SCHEMA, [rejectedEvent(rejected, 'system', reason, at)]);
      await remediationsRepository.hastenDeferrals(m, rejected.tenantId, rejected.service, at);
      return 'approval';
    });
    if (closed === 'verified') {
      log.info({ incidentId: event.data.incidentId, tenantId: event.tenantId }, 'incident resolved after its remediation: verified');
    } else if (closed === 'holding') {
      log.info({ incidentId: event.data.incidentId, tenantId: event.tenantId }, 'incident resolved after its remediation: verified once its health holds for the verify window');
    } else if (closed) log.info({ incidentId: event.data.incidentId, tenantId: event.tenantId, closed }, 'incident resolved while waiting; closed without action');
  }
}
