import { newEvent, type Envelope } from '@autoheal/contracts';
import { DECISION_PRODUCER } from '../planning/decision-events.js';
import type { RemediationRow } from '../planning/remediations.repository.js';

/** A planned remediation failed: a human takes over, told what was tried and why it failed. */
export function escalationForFailure(row: RemediationRow, failed: Envelope<'remediation.failed'>, now: Date): Envelope<'remediation.escalated'> {
  const { code, message } = failed.data.error;
  return newEvent('remediation.escalated', {
    tenantId: row.tenantId,
    producer: DECISION_PRODUCER,
    correlationId: row.incidentId,
    causationId: failed.id,
    occurredAt: now,
    data: {
      incidentId: row.incidentId,
      remediationId: row.remediationId,
      service: row.service,
      instance: row.instance,
      policyVersion: row.policyVersion,
      reason: `${failed.data.action} failed (${code}: ${message}); escalating to a human`,
      candidates: row.candidates,
    },
  });
}
