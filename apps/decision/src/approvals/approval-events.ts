import { newEvent, type Envelope, type RemediationAction } from '@autoheal/contracts';
import { DECISION_PRODUCER } from '../planning/decision-events.js';
import type { RemediationRow } from '../planning/remediations.repository.js';

function meta(row: RemediationRow, now: Date) {
  return { tenantId: row.tenantId, producer: DECISION_PRODUCER, correlationId: row.incidentId, occurredAt: now };
}

function target(row: RemediationRow) {
  return { remediationId: row.remediationId, incidentId: row.incidentId, service: row.service, instance: row.instance, action: row.action as RemediationAction };
}

/** The approved plan, with the runtime and parameters the policy fixed: the executor acts on this event alone. */
export function approvedEvent(row: RemediationRow, by: string, now: Date): Envelope<'remediation.approved'> {
  const execution = row.execution ? { runtime: row.execution.runtime, parameters: row.execution.parameters } : {};
  return newEvent('remediation.approved', { ...meta(row, now), data: { ...target(row), approvedBy: by, ...execution } });
}

export function rejectedEvent(row: RemediationRow, by: string, reason: string, now: Date): Envelope<'remediation.rejected'> {
  return newEvent('remediation.rejected', { ...meta(row, now), data: { ...target(row), rejectedBy: by, reason } });
}

/** Nobody approved in time: a human has to take the incident over. */
export function approvalTimedOutEvent(row: RemediationRow, now: Date): Envelope<'remediation.escalated'> {
  return newEvent('remediation.escalated', {
    ...meta(row, now),
    data: {
      incidentId: row.incidentId,
      remediationId: row.remediationId,
      service: row.service,
      instance: row.instance,
      policyVersion: row.policyVersion,
      reason: `approval timed out: ${row.action ?? 'the action'} was not approved by ${row.expiresAt?.toISOString() ?? 'its deadline'}; escalating to a human`,
      candidates: row.candidates,
    },
  });
}
