import { newEvent, type Envelope } from '@autoheal/contracts';
import type { ExecutionSpec } from '../planning/policy-port.js';
import { DECISION_PRODUCER } from '../planning/decision-events.js';

/**
 * An arm (or its withdrawal: armTtlMs 0) is announced like any plan: `remediation.planned`,
 * action `arm_switchover`, carried out by the executor as a signed command to the service's agent
 * and recorded by the auditor. It answers no incident: its incident id is its own remediation id.
 * Its one candidate is itself; `inputs` says what the policy saw.
 */
export function armPlannedEvent(
  a: { tenantId: string; service: string; instance: string; remediationId: string; policyVersion: string; reason: string; execution: ExecutionSpec; inputs: Record<string, unknown> },
  now: Date,
): Envelope<'remediation.planned'> {
  return newEvent('remediation.planned', {
    tenantId: a.tenantId,
    producer: DECISION_PRODUCER,
    correlationId: a.remediationId,
    causationId: null,
    occurredAt: now,
    data: {
      remediationId: a.remediationId,
      incidentId: a.remediationId,
      service: a.service,
      instance: a.instance,
      action: 'arm_switchover',
      policyVersion: a.policyVersion,
      reason: a.reason,
      candidates: [{ action: 'arm_switchover', allowed: true, reason: a.reason }],
      inputs: a.inputs,
      fallbacks: [],
      runtime: a.execution.runtime,
      parameters: a.execution.parameters,
    },
  });
}
