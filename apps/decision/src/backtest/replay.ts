import type { RemediationAction } from '@autoheal/contracts';
import { documentVersion, evaluatePolicy, type PolicyInput, type TenantDocument } from '../planning/policy-port.js';
import { serviceInstanceCount } from '../planning/take-decision.js';
import type { RemediationRow } from '../planning/remediations.repository.js';
import { profileOf } from '../tenants/tenants.service.js';

export interface BacktestLine {
  incidentId: string;
  openedAt: string;
  kind: string;
  target: string;
  then: { decision: string; action: string | null; policyVersion: string; reason: string };
  candidate: { decision: string; action: string | null; policyVersion: string; reason: string };
  changed: boolean;
}

interface RecordedState {
  autoActionsInLastHour?: number;
  inFlightOnService?: number;
  lastActionOnTarget?: { at: string; consecutive: number } | null;
  breakerOpen?: boolean;
  previousAttempts?: RemediationAction[];
}

interface RecordedDeferral {
  recheckMs?: number;
  deferredSince?: string | null;
}

/**
 * Replays one stored decision against a candidate document: the same incident, the counters the
 * original decision saw (from its recorded inputs) and the same time; only the document differs.
 * The instance count comes from the candidate's inventory. A deferred incident's row holds its
 * latest decision, replayed with the deferral it recorded; a decision recorded without one (taken
 * before deferrals existed) is replayed without. Decisions recorded before incident facts were
 * stored cannot be replayed (null).
 */
export function replayDecision(row: RemediationRow, candidate: TenantDocument): BacktestLine | null {
  const facts = row.incident;
  if (!facts.incidentId) return null;
  const inputs = (row.explanation?.inputs ?? {}) as { state?: RecordedState; deferral?: RecordedDeferral };
  const recorded = inputs.state ?? {};
  const state: PolicyInput['state'] = {
    autoActionsInLastHour: recorded.autoActionsInLastHour ?? 0,
    inFlightOnService: recorded.inFlightOnService ?? 0,
    serviceInstanceCount: serviceInstanceCount(candidate, facts.service),
    breakerOpen: recorded.breakerOpen ?? false,
    previousAttempts: recorded.previousAttempts ?? [],
  };
  if (recorded.lastActionOnTarget) state.lastActionOnTarget = { at: Date.parse(recorded.lastActionOnTarget.at), consecutive: recorded.lastActionOnTarget.consecutive };
  const recordedDeferral = inputs.deferral;
  const deferral: PolicyInput['deferral'] =
    recordedDeferral?.recheckMs !== undefined
      ? { recheckMs: recordedDeferral.recheckMs, ...(recordedDeferral.deferredSince ? { since: Date.parse(recordedDeferral.deferredSince) } : {}) }
      : undefined;
  const decision = evaluatePolicy({
    incident: facts as PolicyInput['incident'],
    tenant: { document: candidate, profile: profileOf(candidate), version: documentVersion(candidate) },
    state,
    now: row.decidedAt.getTime(),
    ...(deferral ? { deferral } : {}),
  });
  const action = decision.kind === 'plan' || decision.kind === 'await_approval' ? decision.action : null;
  const dryRun = (decision.kind === 'plan' || decision.kind === 'await_approval') && decision.dryRun;
  const candidateKind = dryRun ? `${decision.kind} (dry run)` : decision.kind;
  const thenKind = row.status === 'dry_run' ? `${row.decisionKind} (dry run)` : row.decisionKind;
  const thenAction = row.decisionKind === 'plan' || row.decisionKind === 'await_approval' ? row.action : null;
  return {
    incidentId: facts.incidentId,
    openedAt: new Date(facts.openedAt).toISOString(),
    kind: facts.kind,
    target: `${facts.service}/${facts.instance}`,
    then: { decision: thenKind, action: thenAction, policyVersion: row.policyVersion, reason: row.reason },
    candidate: { decision: candidateKind, action, policyVersion: decision.explanation.policyVersion, reason: decision.explanation.reason },
    changed: thenKind !== candidateKind || thenAction !== action,
  };
}
