import { newEvent, type Envelope } from '@autoheal/contracts';
import { DECISION_PRODUCER } from '../planning/decision-events.js';
import type { PendingScaleIn, ScaleInDecision } from './scale-in.js';

/**
 * A planned scale-in is announced like any plan (`remediation.planned`, action `scale_in`): the
 * executor carries it out and the audit trail records it under the scale_out's incident. Its
 * one candidate is itself; `inputs` says what the judgement saw.
 */
export function scaleInPlannedEvent(pending: PendingScaleIn, decision: Extract<ScaleInDecision, { kind: 'plan' }>, now: Date): Envelope<'remediation.planned'> {
  const { runtime, parameters, verify } = decision.execution;
  return newEvent('remediation.planned', {
    tenantId: pending.tenantId,
    producer: DECISION_PRODUCER,
    correlationId: pending.incidentId,
    causationId: null,
    occurredAt: now,
    data: {
      remediationId: pending.remediationId,
      incidentId: pending.incidentId,
      service: pending.service,
      instance: pending.instance,
      action: 'scale_in',
      policyVersion: decision.policyVersion,
      reason: decision.reason,
      candidates: [{ action: 'scale_in', allowed: true, reason: decision.reason }],
      inputs: {
        scaleOutRemediationId: pending.scaleOutId,
        scaleOutVerifiedAt: pending.verifiedAt.toISOString(),
        quietSince: decision.quietSince.toISOString(),
        scaleInAfterMs: pending.afterMs,
      },
      fallbacks: [],
      runtime,
      parameters,
      verify,
    },
  });
}
