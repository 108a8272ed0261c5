import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Envelope } from '@autoheal/contracts';
import { appendToOutbox, claimInbox } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import { CLOCK, type Clock } from '../clock.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { OUTCOMES_CONSUMER } from '../decision.consumers.js';
import { decisionMetrics } from '../decision.metrics.js';
import { remediationsRepository } from '../planning/remediations.repository.js';
import { enqueueEscalationOf } from '../escalations/escalation-targets.js';
import { escalationForFailure } from './outcome-events.js';

const log = createLogger('decision');

export type OutcomeResult = 'recorded' | 'escalated' | 'not_ours_or_already_recorded' | 'duplicate_event';

/**
 * Closes the loop on planned remediations: records how they ended, escalates failures. Either way
 * a slot on the service is free again, so the incidents its concurrency cap deferred become due.
 */
@Injectable()
export class OutcomesService {
  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async onSucceeded(event: Envelope<'remediation.succeeded'>): Promise<OutcomeResult> {
    const result = await this.db.transaction(async (m): Promise<OutcomeResult> => {
      if (!(await claimInbox(m, DECISION_SCHEMA, OUTCOMES_CONSUMER.durable, event.id))) return 'duplicate_event';
      const now = this.clock.now();
      const row = await remediationsRepository.recordOutcome(m, event.data.remediationId, { status: 'succeeded', at: now });
      if (!row) return 'not_ours_or_already_recorded';
      await remediationsRepository.hastenDeferrals(m, row.tenantId, row.service, now);
      return 'recorded';
    });
    if (result === 'recorded') decisionMetrics.outcomes.inc({ status: 'succeeded' });
    return result;
  }

  async onFailed(event: Envelope<'remediation.failed'>): Promise<OutcomeResult> {
    const result = await this.db.transaction(async (m): Promise<OutcomeResult> => {
      if (!(await claimInbox(m, DECISION_SCHEMA, OUTCOMES_CONSUMER.durable, event.id))) return 'duplicate_event';
      const now = this.clock.now();
      const row = await remediationsRepository.recordOutcome(m, event.data.remediationId, { status: 'failed', at: now, error: event.data.error });
      if (!row) return 'not_ours_or_already_recorded';
      await remediationsRepository.hastenDeferrals(m, row.tenantId, row.service, now);
      const escalated = escalationForFailure(row, event, now);
      await appendToOutbox(m, DECISION_SCHEMA, [escalated]);
      await enqueueEscalationOf(m, escalated, row.incident.severity, now);
      return 'escalated';
    });
    if (result === 'escalated') {
      decisionMetrics.outcomes.inc({ status: 'failed' });
      log.warn({ remediationId: event.data.remediationId, incidentId: event.data.incidentId, error: event.data.error }, 'remediation failed; escalated');
    }
    return result;
  }
}
