import type { EntityManager } from 'typeorm';
import type { Envelope, RemediationAction } from '@autoheal/contracts';
import { enqueueEscalation } from '../escalations/escalation-targets.js';
import type { StoredTenant } from '../tenants/tenants.repository.js';
import { profileOf } from '../tenants/tenants.service.js';
import { actionable, eventsForDecision, recordOf, type DecisionRecord, type DecisionSubject } from './decision-events.js';
import { evaluatePolicy, inventoryStanding, uncountedReason, type PolicyDecision, type PolicyInput, type TenantDocument } from './policy-port.js';
import type { DecisionFields, DecisionState, DecisionStateQuery, IncidentFacts } from './remediations.repository.js';

const HOUR_MS = 60 * 60_000;
/** Backoff on a target counts the automatic actions on it over this window. */
export const COOLDOWN_WINDOW_MS = 24 * HOUR_MS;

/** Instances the document declares for a service; at least one (the incident's own). */
export function serviceInstanceCount(document: TenantDocument, service: string): number {
  const found = document.inventory.services.find((s) => s.service === service);
  return Math.max(1, found?.instances.length ?? 0);
}

/** Builds the policy's view of a tenant. */
export function policyTenant(tenant: StoredTenant | null): PolicyInput['tenant'] {
  return tenant ? { document: tenant.document, profile: profileOf(tenant.document), version: tenant.policyVersion } : null;
}

export interface TakenDecision {
  /** The policy's decision, made actionable, a hold carrying the breaker's reason. */
  decision: PolicyDecision;
  record: DecisionRecord;
  tenant: StoredTenant | null;
}

/** What a decision about the incident at `now` counts (see remediationsRepository.decisionState). */
export function decisionStateQuery(tenantId: string, facts: IncidentFacts, now: Date): DecisionStateQuery {
  const { incidentId, service, instance } = facts;
  return { tenantId, service, instance, incidentId, hourAgo: new Date(now.getTime() - HOUR_MS), cooldownSince: new Date(now.getTime() - COOLDOWN_WINDOW_MS) };
}

/**
 * Asks the policy about the incident, given the state read under the locks (the DecisionRunner's
 * read: remediationsRepository.decisionState). Pure.
 * `previousAttempts`: every action already tried for the incident, oldest first (none for a new one).
 */
export function decideOn(
  read: DecisionState,
  facts: IncidentFacts,
  now: Date,
  deferral: NonNullable<PolicyInput['deferral']>,
  previousAttempts: readonly RemediationAction[],
): TakenDecision {
  const { tenant: stored, breaker } = read;
  const tenant = policyTenant(stored);
  const state: PolicyInput['state'] = {
    autoActionsInLastHour: stored ? read.autoActionsInLastHour : 0,
    inFlightOnService: stored ? read.inFlightOnService : 0,
    serviceInstanceCount: stored ? serviceInstanceCount(stored.document, facts.service) : 1,
    breakerOpen: breaker.open,
    previousAttempts: [...previousAttempts],
  };
  const last = stored ? read.lastActionOnTarget : undefined;
  if (last) state.lastActionOnTarget = last;
  const decision = actionable(evaluatePolicy({ incident: facts as PolicyInput['incident'], tenant, state, now: now.getTime(), deferral }), facts.instance);
  const held =
    decision.kind === 'hold' && breaker.reason ? { ...decision, explanation: { ...decision.explanation, reason: `${decision.explanation.reason}: ${breaker.reason}` } } : decision;
  const explained = withUncountedReason(held, stored, facts);
  return { decision: explained, record: recordOf(explained), tenant: stored };
}

/**
 * An incident on an instance (or service) the tenant's inventory does not declare counts toward
 * no breaker; its decision says so, in its reason and in `inputs.breakerStanding`, so the audit
 * trail shows what was not counted and why.
 */
function withUncountedReason(decision: PolicyDecision, stored: StoredTenant | null, facts: IncidentFacts): PolicyDecision {
  if (!stored) return decision;
  const standing = inventoryStanding(stored.document.inventory, facts.service, facts.instance);
  const uncounted = uncountedReason(standing, facts.service, facts.instance);
  if (!uncounted) return decision;
  const { explanation } = decision;
  return { ...decision, explanation: { ...explanation, reason: `${explanation.reason}; ${uncounted}`, inputs: { ...explanation.inputs, breakerStanding: standing } } };
}

/** What announcing a decision needs to know besides the decision. */
export interface Announcement {
  subject: DecisionSubject;
  severity: string;
  remediationId: string;
  now: Date;
}

/** The events that announce the decision (see eventsForDecision). */
export function decisionEvents(taken: TakenDecision, about: Announcement): Envelope[] {
  return eventsForDecision(taken.decision, { subject: about.subject, remediationId: about.remediationId, now: about.now });
}

/** For an escalation or a hold of a tenant with escalation targets, enqueues one delivery per target. */
export async function enqueueEscalations(m: EntityManager, taken: TakenDecision, about: Announcement): Promise<void> {
  const { decision, tenant } = taken;
  if ((decision.kind !== 'escalate' && decision.kind !== 'hold') || !tenant) return;
  const { tenantId, incidentId, service, instance } = about.subject;
  const { reason, policyVersion } = decision.explanation;
  await enqueueEscalation(m, tenant.document, { tenantId, incidentId, service, instance, severity: about.severity, reason, policyVersion }, about.now);
}

/** What a decision taken again sets on the row (see remediationsRepository.redecide / replaceFailed). */
export function decidedFields(taken: TakenDecision, now: Date, previousDeferredAt: Date | null): DecisionFields {
  const { decision, record } = taken;
  const { explanation } = decision;
  return {
    action: record.action,
    status: record.status,
    reason: explanation.reason,
    policyVersion: explanation.policyVersion,
    candidates: explanation.candidates,
    refusalRule: record.refusalRule,
    plannedAt: record.countsAsAutoAction ? now : null,
    decidedAt: now,
    decisionKind: decision.kind,
    explanation: explanation as unknown as Record<string, unknown>,
    fallbacks: record.fallbacks,
    emergency: record.emergency,
    expiresAt: record.expiresAt,
    retryAt: record.retryAt,
    deferredAt: record.deferredAt ?? previousDeferredAt,
    execution: record.execution,
  };
}
