import { newEvent, type Envelope } from '@autoheal/contracts';
import type { PlanDecision } from './plan-remediation.js';

export const DECISION_PRODUCER = 'decision';

export interface DecisionEventsInput {
  incident: Envelope<'incident.opened'>;
  remediationId: string;
  policyVersion: string;
  now: Date;
}

/**
 * The events a decision publishes: a plan, or an escalation preceded by the compliance
 * refusal that caused it. All belong to the incident's correlation and were caused by the
 * incident event.
 */
export function eventsForDecision(decision: PlanDecision, input: DecisionEventsInput): Envelope[] {
  const { incident, remediationId, policyVersion, now } = input;
  const { incidentId, service, instance } = incident.data;
  const meta = { tenantId: incident.tenantId, producer: DECISION_PRODUCER, correlationId: incidentId, causationId: incident.id, occurredAt: now };
  switch (decision.kind) {
    case 'plan':
      return [
        newEvent('remediation.planned', {
          ...meta,
          data: { remediationId, incidentId, service, instance, action: decision.action, policyVersion, reason: decision.reason, candidates: decision.candidates },
        }),
      ];
    case 'escalate': {
      const events: Envelope[] = [];
      if (decision.refusal) {
        const { rule, action, reason } = decision.refusal;
        events.push(newEvent('compliance.action_refused', { ...meta, data: { incidentId, service, instance, action, rule, reason, policyVersion } }));
      }
      events.push(
        newEvent('remediation.escalated', {
          ...meta,
          data: { incidentId, remediationId, service, instance, policyVersion, reason: decision.reason, candidates: decision.candidates },
        }),
      );
      return events;
    }
    default: {
      const unreachable: never = decision;
      throw new Error(`unhandled decision ${JSON.stringify(unreachable)}`);
    }
  }
}
