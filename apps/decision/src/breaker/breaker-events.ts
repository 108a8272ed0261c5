import { newEvent, type Envelope } from '@autoheal/contracts';
import { DECISION_PRODUCER } from '../planning/decision-events.js';
import type { BreakerState } from './breaker.repository.js';

/**
 * The breaker stops automatic actions for every tenant, so every tenant's audit trail says when
 * and why — and, on resume, who decided it was safe again. One event per tenant.
 */
export function breakerOpenedEvents(tenantIds: readonly string[], reason: string, at: Date, incidentId: string): Envelope<'compliance.breaker_opened'>[] {
  return tenantIds.map((tenantId) =>
    newEvent('compliance.breaker_opened', {
      tenantId,
      producer: DECISION_PRODUCER,
      correlationId: incidentId,
      occurredAt: at,
      data: { reason, openedAt: at.toISOString(), incidentId },
    }),
  );
}

export function breakerResumedEvents(tenantIds: readonly string[], by: string, reason: string, at: Date, before: BreakerState): Envelope<'compliance.breaker_resumed'>[] {
  return tenantIds.map((tenantId) =>
    newEvent('compliance.breaker_resumed', {
      tenantId,
      producer: DECISION_PRODUCER,
      occurredAt: at,
      data: { resumedBy: by, reason, resumedAt: at.toISOString(), openedReason: before.reason, openedAt: before.openedAt?.toISOString() ?? null },
    }),
  );
}
