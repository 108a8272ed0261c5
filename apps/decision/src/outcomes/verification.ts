import type { EntityManager } from 'typeorm';
import { newEvent, type Envelope, type RemediationAction } from '@autoheal/contracts';
import { appendToOutbox } from '@autoheal/persistence';
import { DECISION_SCHEMA } from '../data-source.js';
import { decisionMetrics } from '../decision.metrics.js';
import { DECISION_PRODUCER } from '../planning/decision-events.js';
import { DEFAULT_VERIFY_DEADLINE_MS } from '../planning/policy-port.js';
import { remediationsRepository, type RemediationRow } from '../planning/remediations.repository.js';

/**
 * A remediation is done when it is verified, not when the driver says ok:
 *   driver success → `verifying` until the plan's verify deadline;
 *   the incident resolves by then → `verified` (remediation.verified);
 *   still open at the deadline → remediation.verification_failed, and the row counts as failed,
 *   so the next allowed fallback runs or the incident escalates (VerificationWorker).
 * The functions here take the caller's transaction and append their events to its outbox.
 */

/** When a remediation the driver finished at `executedAt` must be verified by. */
export function verifyDeadlineOf(row: Pick<RemediationRow, 'execution'>, executedAt: Date): Date {
  return new Date(executedAt.getTime() + (row.execution?.verify.deadlineMs ?? DEFAULT_VERIFY_DEADLINE_MS));
}

function target(row: RemediationRow) {
  return { remediationId: row.remediationId, incidentId: row.incidentId, service: row.service, instance: row.instance, action: row.action as RemediationAction };
}

/**
 * The time the fix is proven: the later of the driver's success and the incident's resolution
 * (an incident may resolve while the action is still being reported).
 */
export function verifiedAt(executedAt: Date, resolvedAt: Date): Date {
  return new Date(Math.max(executedAt.getTime(), resolvedAt.getTime()));
}

export function verifiedEvent(row: RemediationRow, executedAt: Date, at: Date, causationId: string): Envelope<'remediation.verified'> {
  return newEvent('remediation.verified', {
    tenantId: row.tenantId,
    producer: DECISION_PRODUCER,
    correlationId: row.incidentId,
    causationId,
    occurredAt: at,
    data: {
      ...target(row),
      verifiedBy: 'incident_resolved',
      executedAt: executedAt.toISOString(),
      timeToRemediateMs: Math.max(0, at.getTime() - row.openedAt.getTime()),
    },
  });
}

export function verificationFailedEvent(row: RemediationRow, executedAt: Date, deadline: Date, now: Date): Envelope<'remediation.verification_failed'> {
  return newEvent('remediation.verification_failed', {
    tenantId: row.tenantId,
    producer: DECISION_PRODUCER,
    correlationId: row.incidentId,
    causationId: null,
    occurredAt: now,
    data: {
      ...target(row),
      reason: `${row.action ?? 'the action'} was reported done at ${executedAt.toISOString()} but the incident was still open at the verification deadline ${deadline.toISOString()}`,
      executedAt: executedAt.toISOString(),
      deadline: deadline.toISOString(),
    },
  });
}

/**
 * Marks a remediation being verified as verified, its incident having resolved at `resolvedAt`,
 * announces it and frees its slot on the service (deferred incidents there become due). Null when
 * the row is not being verified (any more). Returns the event announced; the caller counts it
 * (countVerified) once the transaction committed.
 */
export async function recordVerified(m: EntityManager, row: RemediationRow, resolvedAt: Date, causationId: string): Promise<Envelope<'remediation.verified'> | null> {
  const executedAt = row.outcomeAt ?? resolvedAt;
  const at = verifiedAt(executedAt, resolvedAt);
  const verified = await remediationsRepository.markVerified(m, row.remediationId, at);
  if (!verified) return null;
  const event = verifiedEvent(verified, executedAt, at, causationId);
  await appendToOutbox(m, DECISION_SCHEMA, [event]);
  await remediationsRepository.hastenDeferrals(m, verified.tenantId, verified.service, at);
  return event;
}

/** The metrics of a verified remediation, from the event that announced it: one place for every path that verifies. */
export function countVerified(event: Envelope<'remediation.verified'>): void {
  const { action, executedAt, timeToRemediateMs } = event.data;
  decisionMetrics.outcomes.inc({ status: 'verified' });
  decisionMetrics.verificationLatency.observe({ result: 'verified', action }, Math.max(0, Date.parse(event.occurredAt) - Date.parse(executedAt)) / 1000);
  decisionMetrics.timeToRemediate.observe({ action }, timeToRemediateMs / 1000);
}

/** The metrics of a failed verification (its caller's transaction counts the outcome with it). */
export function countVerificationFailed(event: Envelope<'remediation.verification_failed'>): void {
  const { action, executedAt } = event.data;
  decisionMetrics.verificationLatency.observe({ result: 'verification_failed', action }, Math.max(0, Date.parse(event.occurredAt) - Date.parse(executedAt)) / 1000);
}
