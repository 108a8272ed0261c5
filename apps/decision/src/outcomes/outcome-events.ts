import { newEvent, type CandidateConsidered, type Envelope, type RemediationAction } from '@autoheal/contracts';
import { DECISION_PRODUCER } from '../planning/decision-events.js';
import type { RemediationRow } from '../planning/remediations.repository.js';

/** One action tried for an incident and how it failed. */
export interface TriedAction {
  action: string;
  error: { code: string; message: string } | null;
}

/** "restart failed (spawn_failed: …), then replace failed (unsupported_action: …)": every attempt, oldest first. */
export function describeAttempts(attempts: readonly TriedAction[]): string {
  return attempts.map(({ action, error }) => `${action} failed${error ? ` (${error.code}: ${error.message})` : ''}`).join(', then ');
}

/** How a remediation ended without fixing the incident: the executor's failure, or a verification that failed. */
export type FailureEvent = Envelope<'remediation.failed' | 'remediation.verification_failed'>;

/** The action that failed and how, from either kind of failure. */
export function failureOf(event: FailureEvent): { action: RemediationAction; error: { code: string; message: string } } {
  return event.type === 'remediation.failed'
    ? { action: event.data.action, error: event.data.error }
    : { action: event.data.action, error: { code: 'verification_failed', message: event.data.reason } };
}

const ESCALATING = 'escalating to a human';
const withEscalation = (reason: string): string => (reason.endsWith(ESCALATING) ? reason : `${reason}; ${ESCALATING}`);

/** Why no fallback follows a failure, from the policy's decision taken again (absent: none was asked for). */
export interface NoFallback {
  reason: string;
  policyVersion: string;
  candidates: CandidateConsidered[];
}

/**
 * A planned remediation failed and no fallback is allowed: a human takes over, told every action
 * tried for the incident (`earlier` ones that a fallback replaced, then this one), how each failed
 * and, when the policy was asked again, why nothing else may run.
 */
export function escalationForFailure(
  row: RemediationRow,
  failed: FailureEvent,
  now: Date,
  earlier: readonly TriedAction[] = [],
  noFallback?: NoFallback,
): Envelope<'remediation.escalated'> {
  const tried = describeAttempts([...earlier, failureOf(failed)]);
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
      policyVersion: noFallback?.policyVersion ?? row.policyVersion,
      reason: noFallback ? `${tried}; no fallback: ${withEscalation(noFallback.reason)}` : `${tried}; ${ESCALATING}`,
      candidates: noFallback?.candidates ?? row.candidates,
    },
  });
}
