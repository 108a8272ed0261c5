import type { EntityManager } from 'typeorm';
import { newEvent, newEventId, type Envelope, type RemediationAction } from '@autoheal/contracts';
import { appendToOutbox } from '@autoheal/persistence';
import { DECISION_SCHEMA } from '../data-source.js';
import { decisionMetrics } from '../decision.metrics.js';
import { DECISION_PRODUCER } from '../planning/decision-events.js';
import { DEFAULT_VERIFY_DEADLINE_MS } from '../planning/policy-port.js';
import { remediationsRepository, type RemediationRow } from '../planning/remediations.repository.js';
import { scaleInsRepository } from '../scale-in/scale-ins.repository.js';
import { judgeVerification } from './verify-window.js';

/**
 * A remediation is done when it is verified, not when the driver says ok:
 *   driver success → `verifying` until the plan's verify deadline;
 *   the incident resolves by then → `verified` (remediation.verified, `incident_resolved`) — or,
 *   with a verify window, the hold starts (`hold_until`) and the target's health must hold for
 *   the window (no new incident on it) → `verified` (`health_held`, VerificationWorker);
 *   a new incident on the target inside the window → remediation.verification_failed (a relapse,
 *   DecisionRunner trigger `verification_relapsed`);
 *   not proven at the deadline → remediation.verification_failed, and the row counts as failed,
 *   so the next allowed fallback runs or the incident escalates (VerificationWorker).
 * The timing is judged by verify-window.ts (pure).
 * The functions here take the caller's transaction and append their events to its outbox.
 */

/** When a remediation the driver finished at `executedAt` must be verified by. */
export function verifyDeadlineOf(row: Pick<RemediationRow, 'execution'>, executedAt: Date): Date {
  return new Date(executedAt.getTime() + (row.execution?.verify.deadlineMs ?? DEFAULT_VERIFY_DEADLINE_MS));
}

function target(row: RemediationRow) {
  return { remediationId: row.remediationId, incidentId: row.incidentId, service: row.service, instance: row.instance, action: row.action as RemediationAction };
}

export function verifiedEvent(
  row: RemediationRow,
  executedAt: Date,
  at: Date,
  causationId: string | null,
  by: { by: 'incident_resolved' } | { by: 'health_held'; windowMs: number } = { by: 'incident_resolved' },
  occurredAt: Date = at,
): Envelope<'remediation.verified'> {
  return newEvent('remediation.verified', {
    tenantId: row.tenantId,
    producer: DECISION_PRODUCER,
    correlationId: row.incidentId,
    causationId,
    occurredAt,
    data: {
      ...target(row),
      verifiedBy: by.by,
      ...(by.by === 'health_held' ? { windowMs: by.windowMs } : {}),
      executedAt: executedAt.toISOString(),
      timeToRemediateMs: Math.max(0, at.getTime() - row.openedAt.getTime()),
    },
  });
}

/** `why`: what was not proven (verify-window.ts); absent: the incident was still open at the deadline. `causationId`: a relapse's incident event. */
export function verificationFailedEvent(row: RemediationRow, executedAt: Date, deadline: Date, now: Date, why?: string, causationId: string | null = null): Envelope<'remediation.verification_failed'> {
  return newEvent('remediation.verification_failed', {
    tenantId: row.tenantId,
    producer: DECISION_PRODUCER,
    correlationId: row.incidentId,
    causationId,
    occurredAt: now,
    data: {
      ...target(row),
      reason: `${row.action ?? 'the action'} was reported done at ${executedAt.toISOString()} but ${why ?? `the incident was still open at the verification deadline ${deadline.toISOString()}`}`,
      executedAt: executedAt.toISOString(),
      deadline: deadline.toISOString(),
    },
  });
}

/**
 * The incident of a remediation being verified resolved at `resolvedAt` (or it had, when the
 * driver's success arrives): without a verify window it is verified now (`verified`); with one,
 * the hold starts (`holding`) and the verification worker verifies it when the window has held.
 * A window that cannot end by the deadline still starts a hold: the deadline fails it. Null when
 * the row is not being verified (any more).
 */
export async function recordResolution(m: EntityManager, row: RemediationRow, resolvedAt: Date, causationId: string): Promise<'verified' | 'holding' | null> {
  const executedAt = row.outcomeAt ?? resolvedAt;
  const windowMs = row.execution?.verify.windowMs;
  const judged = judgeVerification({ executedAt, deadline: row.verifyDeadline ?? verifyDeadlineOf(row, executedAt), resolvedAt, ...(windowMs !== undefined ? { windowMs } : {}) }, resolvedAt);
  switch (judged.kind) {
    case 'verified':
      return (await recordVerified(m, row, judged.at, causationId)) ? 'verified' : null;
    case 'hold':
      return (await remediationsRepository.startHold(m, row.remediationId, judged.until)) ? 'holding' : null;
    case 'wait':
    case 'failed':
      // Judged at the resolution itself, before the hold can have begun: neither can happen; the
      // deadline worker has the last word either way.
      return null;
    default: {
      const unreachable: never = judged;
      throw new Error(`unhandled verification judgement ${JSON.stringify(unreachable)}`);
    }
  }
}

/**
 * Marks a remediation being verified as verified at `at` (its incident having resolved then, or
 * its verify window having held until then), announces it and frees its slot on the service
 * (deferred incidents there become due). Null when the row is not being verified (any more).
 */
export async function recordVerified(
  m: EntityManager,
  row: RemediationRow,
  at: Date,
  causationId: string | null,
  by: Parameters<typeof verifiedEvent>[4] = { by: 'incident_resolved' },
  now: Date = at,
): Promise<RemediationRow | null> {
  const executedAt = row.outcomeAt ?? at;
  const verified = await remediationsRepository.markVerified(m, row.remediationId, at);
  if (!verified) return null;
  const event = verifiedEvent(verified, executedAt, at, causationId, by, now);
  await appendToOutbox(m, DECISION_SCHEMA, [event]);
  // Counted here, the one function every path that verifies goes through (a resolution, a held
  // window, a relapse's fallback); a transaction that rolls back after this point is retried and
  // counts twice — rare enough for a metric, and never in the record.
  countVerified(event);
  await remediationsRepository.hastenDeferrals(m, verified.tenantId, verified.service, now);
  await armScaleIn(m, verified, at);
  return verified;
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

/**
 * A verified scale_out is scaled back in once the service has stayed quiet for the plan's
 * `scaleInAfterMs` (the scale-in worker judges it, scale-in/scale-in.ts). Written in the
 * verification's transaction, with the time it is first judged, so a restart loses nothing.
 */
async function armScaleIn(m: EntityManager, verified: RemediationRow, at: Date): Promise<void> {
  const afterMs = verified.execution?.parameters.scaleInAfterMs;
  if (verified.action !== 'scale_out' || afterMs === undefined) return;
  const { remediationId: scaleOutId, incidentId, tenantId, service, instance } = verified;
  const pending = { scaleOutId, remediationId: newEventId(at.getTime()), incidentId, tenantId, service, instance, verifiedAt: at, afterMs };
  await scaleInsRepository.arm(m, pending, new Date(at.getTime() + afterMs));
}
