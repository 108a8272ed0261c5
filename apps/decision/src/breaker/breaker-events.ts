import { newEvent, type BreakerScope, type Envelope } from '@autoheal/contracts';
import { DECISION_PRODUCER } from '../planning/decision-events.js';
import type { BreakerState } from './breaker.repository.js';

/**
 * A breaker stops automatic actions for the tenants it covers, so each of their audit trails says
 * when and why — and, on resume, who decided it was safe again. One event per tenant covered: the
 * tenant itself for a tenant's breaker, every tenant with a document for the global one (it
 * stops them all, and only evidence across tenants opens it).
 */
export function breakerOpenedEvents(tenantIds: readonly string[], reason: string, at: Date, incidentId: string, scope: BreakerScope): Envelope<'compliance.breaker_opened'>[] {
  return tenantIds.map((tenantId) =>
    newEvent('compliance.breaker_opened', {
      tenantId,
      producer: DECISION_PRODUCER,
      correlationId: incidentId,
      occurredAt: at,
      data: { reason, openedAt: at.toISOString(), incidentId, scope },
    }),
  );
}

export function breakerResumedEvents(
  tenantIds: readonly string[],
  by: string,
  reason: string,
  at: Date,
  before: BreakerState,
  scope: BreakerScope,
): Envelope<'compliance.breaker_resumed'>[] {
  return tenantIds.map((tenantId) =>
    newEvent('compliance.breaker_resumed', {
      tenantId,
      producer: DECISION_PRODUCER,
      occurredAt: at,
      data: { scope, resumedBy: by, reason, resumedAt: at.toISOString(), openedReason: before.reason, openedAt: before.openedAt?.toISOString() ?? null },
    }),
  );
}
