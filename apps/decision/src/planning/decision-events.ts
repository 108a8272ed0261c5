import { newEvent, type CandidateConsidered, type Envelope, type PacingRefusal, type RemediationAction } from '@autoheal/contracts';
import { GuardrailRule, type ExecutionSpec, type Explanation, type PolicyDecision } from './policy-port.js';
import type { RemediationStatus } from './remediations.repository.js';

export const DECISION_PRODUCER = 'decision';

/** What a decision is about, and the event it answers. */
export interface DecisionSubject {
  tenantId: string;
  incidentId: string;
  service: string;
  instance: string;
  /** The event the decision answers: `incident.opened` (also for a deferred incident decided again), or the `remediation.failed` a fallback follows. */
  causationId: string;
}

export interface DecisionEventsInput {
  subject: DecisionSubject;
  remediationId: string;
  now: Date;
}

export function subjectOf(event: Envelope<'incident.opened'>): DecisionSubject {
  const { incidentId, service, instance } = event.data;
  return { tenantId: event.tenantId, incidentId, service, instance, causationId: event.id };
}

/** How a decision is stored: its status, the action it is about and whether it counts against the hourly cap. */
export interface DecisionRecord {
  status: RemediationStatus;
  action: RemediationAction | null;
  /** A plan's runtime, parameters and verification (null for every other decision). */
  execution: ExecutionSpec | null;
  /** Only automatic actions that will run count against the hourly cap and the cooldown. */
  countsAsAutoAction: boolean;
  refusalRule: string | null;
  fallbacks: RemediationAction[];
  emergency: boolean;
  expiresAt: Date | null;
  /** Deferred: when the decision is taken again, and when the incident was first deferred. */
  retryAt: Date | null;
  deferredAt: Date | null;
}

function candidatesOf(explanation: Explanation): CandidateConsidered[] {
  return explanation.candidates.map(({ action, allowed, reason }) => ({ action, allowed, reason }));
}

/**
 * A service-level incident (`instance: '*'`) names no instance a remediation could act on;
 * the contract's remediation target is an instance, so such plans go to a human instead.
 */
export function actionable(decision: PolicyDecision, instance: string): PolicyDecision {
  if (instance !== '*' || (decision.kind !== 'plan' && decision.kind !== 'await_approval')) return decision;
  const reason = `service-level incident: ${decision.action} has no single instance to act on; escalating to a human`;
  return { kind: 'escalate', refusals: [], explanation: { ...decision.explanation, reason } };
}

export function recordOf(decision: PolicyDecision): DecisionRecord {
  const none = { fallbacks: [], emergency: false, expiresAt: null, refusalRule: null, retryAt: null, deferredAt: null, execution: null };
  switch (decision.kind) {
    case 'plan':
      return {
        ...none,
        // A dry-run plan is recorded and announced, never executed, so it takes no capacity.
        status: decision.dryRun ? 'dry_run' : 'planned',
        action: decision.action,
        execution: decision.execution,
        countsAsAutoAction: !decision.dryRun,
        fallbacks: decision.fallbacks,
        emergency: decision.emergency,
      };
    case 'await_approval':
      // In dry run nobody is asked to approve what will not run: the plan is only recorded.
      return decision.dryRun
        ? { ...none, status: 'dry_run', action: decision.action, execution: decision.execution, countsAsAutoAction: false, fallbacks: decision.fallbacks }
        : {
            ...none,
            status: 'awaiting_approval',
            action: decision.action,
            execution: decision.execution,
            countsAsAutoAction: false,
            fallbacks: decision.fallbacks,
            expiresAt: new Date(decision.expiresAt),
          };
    case 'escalate':
      return { ...none, status: 'escalated', action: decision.refusals[0]?.action ?? decision.explanation.candidates[0]?.action ?? null, countsAsAutoAction: false, refusalRule: decision.refusals[0]?.rule ?? null };
    case 'defer':
      // Takes no capacity: neither in flight nor an automatic action, until it is planned.
      return {
        ...none,
        status: 'deferred',
        action: decision.refusals[0].action,
        countsAsAutoAction: false,
        refusalRule: decision.refusals[0].rule,
        retryAt: new Date(decision.retryAt),
        deferredAt: new Date(decision.deferredSince),
      };
    case 'hold':
      return { ...none, status: 'held', action: null, countsAsAutoAction: false };
    default: {
      const unreachable: never = decision;
      throw new Error(`unhandled decision ${JSON.stringify(unreachable)}`);
    }
  }
}

function pacingRefusals(decision: Extract<PolicyDecision, { kind: 'defer' }>): PacingRefusal[] {
  return decision.refusals.map(({ action, rule, reason }) => {
    switch (rule) {
      case GuardrailRule.ServiceConcurrency:
      case GuardrailRule.Cooldown:
        return { action, rule, reason };
      default:
        throw new Error(`a deferral refused by ${rule}, which does not pace`);
    }
  });
}

/**
 * The events a decision publishes: a plan (possibly dry run), a request for approval, a deferral,
 * or an escalation preceded by the compliance refusals that caused it. A hold (breaker open) is
 * published as an escalation carrying the breaker's reason. All belong to the incident's
 * correlation and were caused by the incident event.
 */
export function eventsForDecision(decision: PolicyDecision, input: DecisionEventsInput): Envelope[] {
  const { subject, remediationId, now } = input;
  const { incidentId, service, instance } = subject;
  const meta = { tenantId: subject.tenantId, producer: DECISION_PRODUCER, correlationId: incidentId, causationId: subject.causationId, occurredAt: now };
  const { policyVersion, reason, inputs } = decision.explanation;
  const candidates = candidatesOf(decision.explanation);
  switch (decision.kind) {
    case 'plan':
    case 'await_approval': {
      // What a plan and a request for approval both say about the action they propose.
      const { runtime, parameters, verify } = decision.execution;
      const proposal = { remediationId, incidentId, service, instance, action: decision.action, policyVersion, reason, candidates, inputs, fallbacks: decision.fallbacks, runtime, parameters, verify };
      if (decision.kind === 'plan') {
        return [
          newEvent('remediation.planned', {
            ...meta,
            data: { ...proposal, ...(decision.dryRun ? { dryRun: true } : {}), ...(decision.emergency ? { emergency: true } : {}) },
          }),
        ];
      }
      // In dry run nobody is asked: the plan is recorded, saying it would have needed approval.
      if (decision.dryRun) return [newEvent('remediation.planned', { ...meta, data: { ...proposal, reason: `${reason} (would need approval)`, dryRun: true } })];
      return [newEvent('remediation.awaiting_approval', { ...meta, data: { ...proposal, expiresAt: new Date(decision.expiresAt).toISOString() } })];
    }
    case 'escalate': {
      const events: Envelope[] = [];
      // The refusal event names one instance; a service-level incident has none to name.
      if (instance !== '*') {
        for (const refusal of decision.refusals) {
          events.push(newEvent('compliance.action_refused', { ...meta, data: { incidentId, service, instance, action: refusal.action, rule: refusal.rule, reason: refusal.reason, policyVersion } }));
        }
      }
      events.push(newEvent('remediation.escalated', { ...meta, data: { incidentId, remediationId, service, instance, policyVersion, reason, candidates, inputs } }));
      return events;
    }
    case 'defer':
      // The refusals travel in the event: a deferral is not a compliance refusal (yet).
      return [
        newEvent('remediation.deferred', {
          ...meta,
          data: {
            incidentId,
            remediationId,
            service,
            instance,
            policyVersion,
            reason,
            candidates,
            inputs,
            retryAt: new Date(decision.retryAt).toISOString(),
            deferredSince: new Date(decision.deferredSince).toISOString(),
            escalateAt: new Date(decision.escalateAt).toISOString(),
            refusals: pacingRefusals(decision),
          },
        }),
      ];
    case 'hold':
      return [newEvent('remediation.escalated', { ...meta, data: { incidentId, remediationId, service, instance, policyVersion, reason, candidates, inputs } })];
    default: {
      const unreachable: never = decision;
      throw new Error(`unhandled decision ${JSON.stringify(unreachable)}`);
    }
  }
}
