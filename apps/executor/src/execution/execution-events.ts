import { newEvent, type Envelope, type RemediationAction } from '@autoheal/contracts';
import type { DriverResult, UnattributedReply } from '../drivers/remediation-driver.js';
import type { ExecutionRow } from './executions.repository.js';

export const EXECUTOR_PRODUCER = 'executor';

/** A remediation the executor acts on: planned automatically, or approved by a human. */
export type ExecutableEvent = Envelope<'remediation.planned' | 'remediation.approved'>;

function meta(cause: Envelope, incidentId: string, now: Date) {
  return { tenantId: cause.tenantId, producer: EXECUTOR_PRODUCER, correlationId: incidentId, causationId: cause.id, occurredAt: now };
}

export function startedEvent(cause: ExecutableEvent, driver: string, now: Date): Envelope<'remediation.started'> {
  const { remediationId, incidentId, service, instance, action } = cause.data;
  return newEvent('remediation.started', { ...meta(cause, incidentId, now), data: { remediationId, incidentId, service, instance, action, executor: driver } });
}

/** The reply to a command could not be attributed to the target's agent (the remediation is recorded failed). */
export function replyRejectedEvent(cause: ExecutableEvent, data: UnattributedReply, now: Date): Envelope<'security.reply_rejected'> {
  return newEvent('security.reply_rejected', { ...meta(cause, cause.data.incidentId, now), data });
}

/** remediation.succeeded or remediation.failed for a finished execution. */
export function outcomeEvent(cause: ExecutableEvent, row: ExecutionRow, result: DriverResult, now: Date): Envelope {
  const target = {
    remediationId: row.remediationId,
    incidentId: row.incidentId,
    service: row.service,
    instance: row.instance,
    action: row.action as RemediationAction,
  };
  const durationMs = Math.max(0, now.getTime() - row.startedAt.getTime());
  return result.ok
    ? newEvent('remediation.succeeded', { ...meta(cause, row.incidentId, now), data: { ...target, durationMs, details: result.details } })
    : newEvent('remediation.failed', { ...meta(cause, row.incidentId, now), data: { ...target, durationMs, error: result.error } });

}
