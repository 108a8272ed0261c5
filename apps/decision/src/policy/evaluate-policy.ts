import type { CandidateConsidered, IncidentKind, IncidentSeverity, RemediationAction, SuspectedCause } from '@autoheal/contracts';
import { actionLevel, actionSources, thresholdSources, type Framework, type ProfileThresholds, type Threshold } from './compliance-presets.js';
import { deferral, deferralLimitMs, type DeferralVerdict } from './deferral.js';
import { executionSpecFor, type ExecutionSpec } from './execution-spec.js';
import { activeWindow, concurrencyLimit, cooldownUntil, findTarget, GuardrailRule, isPlacement, placementOf } from './guardrails.js';
import { playbookFor, unmetCondition, type Playbook, type PlaybookCandidate } from './playbooks.js';
import type { TenantDocument, Window } from './tenant-document.js';

export { GuardrailRule } from './guardrails.js';

/** Recorded on decisions taken for a tenant that has no document. */
export const NO_POLICY_VERSION = 'none';

export interface PolicyInput {
  incident: {
    incidentId: string;
    kind: IncidentKind;
    severity: IncidentSeverity;
    service: string;
    /** An instance, or `*` for a service-level incident. */
    instance: string;
    suspectedCause?: SuspectedCause;
    scope?: 'instance' | 'service';
    /** Epoch ms. */
    openedAt: number;
  };
  /** Null when the tenant has no document: nothing may run automatically. */
  tenant: { document: TenantDocument; profile: ProfileThresholds; version: string } | null;
  /** Counted by the caller under the tenant's lock, so that the caps hold across processes. */
  state: {
    autoActionsInLastHour: number;
    /** Remediations on the service planned, approved or awaiting approval, not yet finished. */
    inFlightOnService: number;
    serviceInstanceCount: number;
    /** The last action on this target and how many actions in a row it has had (cooldown backoff). */
    lastActionOnTarget?: { at: number; consecutive: number };
    breakerOpen: boolean;
    /** Actions already tried for this incident (a fallback after a failed verification). */
    previousAttempts: RemediationAction[];
  };
  /** Epoch ms, from the caller's clock. */
  now: number;
  /**
   * Defer instead of escalating when only pacing guardrails refused (see deferral.ts). Absent: such
   * an incident escalates, the rule before deferrals existed, which a backtest of such a decision replays.
   */
  deferral?: {
    /** How soon a decision refused by the concurrency cap is taken again, at the latest. */
    recheckMs: number;
    /** Epoch ms of the incident's first deferral, when it was deferred before. */
    since?: number;
  };
}

/** Why the policy decided as it did, kept with the decision for the auditor. */
export interface Explanation {
  policyVersion: string;
  reason: string;
  /** Every candidate of the playbook, in order (shape of the `candidates` of remediation events). */
  candidates: CandidateConsidered[];
  /** Thresholds, counters, windows and the playbook as the policy saw them (JSON-safe). */
  inputs: Record<string, unknown>;
}

export interface Refusal {
  rule: GuardrailRule;
  action: RemediationAction;
  reason: string;
}

export type PolicyDecision =
  | {
      kind: 'plan';
      action: RemediationAction;
      /** The target's runtime, the action's parameters and its verification: what the executor needs. */
      execution: ExecutionSpec;
      fallbacks: RemediationAction[];
      /** Taken during a change freeze because the playbook marks it emergency. */
      emergency: boolean;
      dryRun: boolean;
      explanation: Explanation;
      /** Candidates ahead of the chosen one that a guardrail refused. */
      refusals: Refusal[];
    }
  | {
      kind: 'await_approval';
      action: RemediationAction;
      execution: ExecutionSpec;
      fallbacks: RemediationAction[];
      /** Epoch ms; unapproved by then, the plan escalates. */
      expiresAt: number;
      emergency: boolean;
      dryRun: boolean;
      explanation: Explanation;
      refusals: Refusal[];
    }
  | { kind: 'escalate'; explanation: Explanation; refusals: Refusal[] }
  | {
      kind: 'defer';
      /** Epoch ms: the decision is taken again then at the latest. */
      retryAt: number;
      /** Epoch ms of the first deferral. */
      deferredSince: number;
      /** Epoch ms: still refused by then, the incident escalates. */
      escalateAt: number;
      explanation: Explanation;
      /** Every refusal is service_concurrency or cooldown. */
      refusals: Refusal[];
    }
  | { kind: 'hold'; rule: GuardrailRule.CircuitBreaker | GuardrailRule.MaintenanceWindow; explanation: Explanation };

type Verdict =
  | { kind: 'skip'; reason: string }
  | { kind: 'refuse'; rule: GuardrailRule; reason: string }
  | { kind: 'allow'; approval: boolean; reason: string };

function named(sources: string[]): string {
  return sources.length > 0 ? sources.join(', ') : 'tenant profile';
}

const CHANGE_CONTROL: readonly Framework[] = ['PCI_DSS', 'SOC2'];

interface Context {
  input: PolicyInput;
  doc: TenantDocument;
  playbook: Playbook;
  profile: ProfileThresholds;
  freeze: Window | null;
  limit: number;
  until: number | null;
  served: (t: Threshold) => string;
}

/** Runs the guardrails on one candidate, in order; the first that fails refuses it. */
function judge(candidate: PlaybookCandidate, ctx: Context): Verdict {
  const { input, doc, profile } = ctx;
  const { incident, state, now } = input;
  const { action } = candidate;
  const frameworks = doc.frameworks;
  const overrides = doc.overrides;

  if (state.previousAttempts.includes(action)) return { kind: 'skip', reason: `${action} was already tried for this incident` };
  const unmet = unmetCondition(candidate.when, incident, state.previousAttempts.length);
  if (unmet) return { kind: 'skip', reason: `not applicable: ${unmet}` };
  // Before any rule: a candidate that cannot apply (its target's runtime cannot carry it out, no
  // standby region, no throttle limit) is no refusal, so it can neither make an incident escalate
  // that the pacing rules alone would defer nor name a rule in the record.
  const spec = executionSpecFor(action, findTarget(doc, incident.service, incident.instance).service, profile, ctx.playbook);
  if (!spec.ok) return { kind: 'skip', reason: `not applicable: ${spec.notApplicable}` };

  const level = actionLevel(profile, action);
  if (level === 2) {
    return {
      kind: 'refuse',
      rule: GuardrailRule.ActionNotAllowed,
      reason: `${GuardrailRule.ActionNotAllowed} (${named(actionSources(frameworks, overrides, action, 'forbidden'))}): ${action} is neither automatic nor approvable under the tenant's profile`,
    };
  }

  if (isPlacement(action)) {
    const placement = placementOf(action, doc, incident.service, incident.instance);
    if (profile.allowedRegions !== 'any') {
      const allowed = profile.allowedRegions;
      if (placement === null) {
        return {
          kind: 'refuse',
          rule: GuardrailRule.Residency,
          reason: `${GuardrailRule.Residency} (${ctx.served('allowedRegions')}): ${incident.service}/${incident.instance} is not in the tenant's inventory, so where ${action} would place workload cannot be checked against ${allowed.join(', ') || 'no allowed region'}`,
        };
      }
      const outside = placement.regions.filter((r) => !allowed.includes(r));
      if (outside.length > 0) {
        return {
          kind: 'refuse',
          rule: GuardrailRule.Residency,
          reason: `${GuardrailRule.Residency} (${ctx.served('allowedRegions')}): ${action} would place workload in ${outside.join(', ')}, outside the allowed regions ${allowed.join(', ') || '(none)'}`,
        };
      }
    }
    if (profile.isolation === 'dedicated') {
      if (placement === null) {
        return {
          kind: 'refuse',
          rule: GuardrailRule.Isolation,
          reason: `${GuardrailRule.Isolation} (${ctx.served('isolation')}): ${incident.service}/${incident.instance} is not in the tenant's inventory, so whether ${action} lands on a dedicated pool cannot be checked`,
        };
      }
      if (placement.pools.includes('shared')) {
        return {
          kind: 'refuse',
          rule: GuardrailRule.Isolation,
          reason: `${GuardrailRule.Isolation} (${ctx.served('isolation')}): ${action} would place workload on a shared pool; the tenant requires dedicated capacity`,
        };
      }
    }
  }

  if (ctx.freeze && !candidate.emergency) {
    const basis = frameworks.filter((f) => CHANGE_CONTROL.includes(f));
    return {
      kind: 'refuse',
      rule: GuardrailRule.ChangeFreeze,
      reason: `${GuardrailRule.ChangeFreeze} (${basis.length > 0 ? basis.join(', ') : 'tenant change freeze'}): a change freeze holds until ${ctx.freeze.end}${ctx.freeze.reason ? ` (${ctx.freeze.reason})` : ''} and the playbook does not mark ${action} as an emergency`,
    };
  }

  if (ctx.until !== null && now < ctx.until) {
    const last = state.lastActionOnTarget!;
    return {
      kind: 'refuse',
      rule: GuardrailRule.Cooldown,
      reason: `${GuardrailRule.Cooldown} (${ctx.served('cooldownMs')}): ${last.consecutive} action(s) in a row on ${incident.service}/${incident.instance}, the last ${Math.round((now - last.at) / 1000)}s ago; the next may run ${Number.isFinite(ctx.until) ? `in ${Math.ceil((ctx.until - now) / 1000)}s` : 'only after a human intervenes'} (cooldown ${profile.cooldownMs / 1000}s × 2^${Math.max(0, last.consecutive - 1)})`,
    };
  }

  if (state.inFlightOnService + 1 > ctx.limit) {
    return {
      kind: 'refuse',
      rule: GuardrailRule.ServiceConcurrency,
      reason: `${GuardrailRule.ServiceConcurrency} (${ctx.served('maxConcurrentShare')}): ${state.inFlightOnService} remediation(s) already in flight on ${incident.service}; at most ${ctx.limit} of its ${state.serviceInstanceCount} instance(s) (${Math.round(profile.maxConcurrentShare * 100)}%) may be acted on at once`,
    };
  }

  if (level === 1) {
    return {
      kind: 'allow',
      approval: true,
      reason: `${GuardrailRule.ApprovalRequired} (${named(actionSources(frameworks, overrides, action, 'approval'))}): allowed once a human approves it`,
    };
  }

  if (state.autoActionsInLastHour >= profile.maxAutoActionsPerHour) {
    return {
      kind: 'refuse',
      rule: GuardrailRule.HourlyCap,
      reason: `${GuardrailRule.HourlyCap} (${ctx.served('maxAutoActionsPerHour')}): the tenant's limit of ${profile.maxAutoActionsPerHour} automatic actions per hour is reached (${state.autoActionsInLastHour} in the last hour)`,
    };
  }
  return { kind: 'allow', approval: false, reason: `allowed automatically by the tenant's profile (${named(frameworks.slice())})` };
}

function isoOrNull(ms: number | null): string | null {
  return ms !== null && Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

function incidentInputs(input: PolicyInput): Record<string, unknown> {
  const { incident, state, now } = input;
  return {
    now: new Date(now).toISOString(),
    incident: {
      incidentId: incident.incidentId,
      kind: incident.kind,
      severity: incident.severity,
      service: incident.service,
      instance: incident.instance,
      scope: incident.scope ?? (incident.instance === '*' ? 'service' : 'instance'),
      suspectedCause: incident.suspectedCause ?? null,
      openedAt: new Date(incident.openedAt).toISOString(),
    },
    state: {
      autoActionsInLastHour: state.autoActionsInLastHour,
      inFlightOnService: state.inFlightOnService,
      serviceInstanceCount: state.serviceInstanceCount,
      lastActionOnTarget: state.lastActionOnTarget ? { at: new Date(state.lastActionOnTarget.at).toISOString(), consecutive: state.lastActionOnTarget.consecutive } : null,
      breakerOpen: state.breakerOpen,
      previousAttempts: state.previousAttempts,
    },
  };
}

/**
 * Decides what to do about one incident under the tenant's profile. Pure: the caller supplies the
 * profile, the counters (read under the tenant's lock) and the time. In order:
 * circuit breaker (hold) → no profile (escalate) → maintenance window (hold) → the playbook's
 * candidates, each through the guardrails; the first allowed one is planned (or awaits approval),
 * the other allowed ones become fallbacks; none allowed → escalate with every refusal, or defer
 * when only pacing guardrails refused an instance-level incident (with `input.deferral`, see deferral.ts).
 */
export function evaluatePolicy(input: PolicyInput): PolicyDecision {
  const { incident, state, now, tenant } = input;
  const target = `${incident.service}/${incident.instance}`;
  const inputs = incidentInputs(input);
  const policyVersion = tenant?.version ?? NO_POLICY_VERSION;
  const { playbook, source } = playbookFor(incident.kind, tenant?.document.playbooks);
  const all = (reason: string): CandidateConsidered[] => playbook.candidates.map((c) => ({ action: c.action, allowed: false, reason }));
  const withPlaybook = { ...inputs, playbook: { source, dryRun: playbook.dryRun ?? false, candidates: playbook.candidates } };

  if (state.breakerOpen || incident.suspectedCause !== undefined) {
    const why = state.breakerOpen
      ? `${GuardrailRule.CircuitBreaker}: the circuit breaker is open; autoheal stays stopped until a human resumes it`
      : `${GuardrailRule.CircuitBreaker}: the incident is marked as a suspected ${incident.suspectedCause} fault; acting on a healthy instance would make things worse`;
    return {
      kind: 'hold',
      rule: GuardrailRule.CircuitBreaker,
      explanation: { policyVersion, reason: `${why}; holding ${incident.kind} on ${target}`, candidates: all(why), inputs: withPlaybook },
    };
  }

  if (tenant === null) {
    const why = `${GuardrailRule.NoProfile}: the tenant has no document, so no compliance profile allows anything to run automatically`;
    return {
      kind: 'escalate',
      explanation: { policyVersion, reason: `${why}; escalating ${incident.kind} on ${target} to a human`, candidates: all(why), inputs: withPlaybook },
      refusals: [],
    };
  }

  const { document: doc, profile } = tenant;
  const frameworkText = named(doc.frameworks.slice());
  const maintenance = activeWindow(doc.maintenanceWindows, now);
  const freeze = activeWindow(doc.changeFreezes, now);
  const limit = concurrencyLimit(profile, state.serviceInstanceCount);
  const until = cooldownUntil(profile, state.lastActionOnTarget);
  const fullInputs = {
    ...withPlaybook,
    frameworks: doc.frameworks,
    overrides: doc.overrides ?? {},
    profile,
    tenantDryRun: doc.dryRun ?? false,
    maintenanceWindow: maintenance,
    changeFreeze: freeze,
    concurrencyLimit: limit,
    cooldownUntil: isoOrNull(until),
    ...(input.deferral
      ? { deferral: { recheckMs: input.deferral.recheckMs, limitMs: deferralLimitMs(profile), deferredSince: isoOrNull(input.deferral.since ?? null) } }
      : {}),
  };

  if (maintenance) {
    const why = `${GuardrailRule.MaintenanceWindow} (${frameworkText}): the tenant is in a maintenance window until ${maintenance.end}${maintenance.reason ? ` (${maintenance.reason})` : ''}; nothing is done automatically`;
    return {
      kind: 'hold',
      rule: GuardrailRule.MaintenanceWindow,
      explanation: { policyVersion, reason: `${why}; holding ${incident.kind} on ${target}`, candidates: all(why), inputs: fullInputs },
    };
  }

  const overrides = doc.overrides;
  const ctx: Context = {
    input,
    doc,
    playbook,
    profile,
    freeze,
    limit,
    until,
    served: (t) => named(thresholdSources(doc.frameworks, overrides, t, profile[t])),
  };

  const candidates: CandidateConsidered[] = [];
  const refusals: Refusal[] = [];
  const allowed: { candidate: PlaybookCandidate; approval: boolean }[] = [];
  for (const candidate of playbook.candidates) {
    const verdict = judge(candidate, ctx);
    switch (verdict.kind) {
      case 'skip':
        candidates.push({ action: candidate.action, allowed: false, reason: verdict.reason });
        break;
      case 'refuse':
        candidates.push({ action: candidate.action, allowed: false, reason: verdict.reason });
        if (allowed.length === 0) refusals.push({ rule: verdict.rule, action: candidate.action, reason: verdict.reason });
        break;
      case 'allow':
        candidates.push({
          action: candidate.action,
          allowed: true,
          reason: allowed.length === 0 ? verdict.reason : `${verdict.reason}; kept as a fallback after ${allowed[0].candidate.action}`,
        });
        allowed.push({ candidate, approval: verdict.approval });
        break;
    }
  }

  const chosen = allowed[0];
  if (!chosen) {
    const refused = candidates.map((c) => `${c.action}: ${c.reason}`).join('; ');
    const none = `no candidate of the ${source} playbook for ${incident.kind} on ${target} is allowed (${refused})`;
    const verdict: DeferralVerdict = input.deferral
      ? deferral({
          scope: incident.instance === '*' || incident.scope === 'service' ? 'service' : 'instance',
          refusals: refusals.map((r) => ({ rule: r.rule, overBudget: actionLevel(profile, r.action) === 0 && state.autoActionsInLastHour >= profile.maxAutoActionsPerHour })),
          now,
          cooldownUntil: until,
          recheckMs: input.deferral.recheckMs,
          limitMs: deferralLimitMs(profile),
          ...(input.deferral.since !== undefined ? { since: input.deferral.since } : {}),
        })
      : { kind: 'escalate' };
    switch (verdict.kind) {
      case 'defer':
        return {
          kind: 'defer',
          retryAt: verdict.retryAt,
          deferredSince: verdict.since,
          escalateAt: verdict.escalateAt,
          refusals,
          explanation: {
            policyVersion,
            reason: `${none}; deferred, not escalated: ${refusals.map((r) => r.rule).filter((r, i, all) => all.indexOf(r) === i).join(', ')} only paces healing; decided again by ${new Date(verdict.retryAt).toISOString()}, escalated if still refused at ${new Date(verdict.escalateAt).toISOString()}`,
            candidates,
            inputs: fullInputs,
          },
        };
      case 'waited_too_long':
        return {
          kind: 'escalate',
          explanation: { policyVersion, reason: `${none}; ${verdict.why}; escalating to a human`, candidates, inputs: fullInputs },
          refusals,
        };
      case 'escalate':
        return { kind: 'escalate', explanation: { policyVersion, reason: `${none}; ${verdict.why ? `${verdict.why}; ` : ''}escalating to a human`, candidates, inputs: fullInputs }, refusals };
      default: {
        const unreachable: never = verdict;
        throw new Error(`unhandled deferral verdict ${JSON.stringify(unreachable)}`);
      }
    }
  }

  const { action } = chosen.candidate;
  const fallbacks = allowed.slice(1).map((a) => a.candidate.action);
  const dryRun = (doc.dryRun ?? false) || (playbook.dryRun ?? false) || (chosen.candidate.dryRun ?? false);
  const emergency = freeze !== null && chosen.candidate.emergency === true;
  const notes = [
    emergency ? `as an emergency change during the change freeze until ${freeze.end}` : '',
    dryRun ? `dry run (${doc.dryRun ? 'tenant' : playbook.dryRun ? 'playbook' : 'candidate'}): recorded, not executed` : '',
    refusals.length > 0 ? `refused first: ${refusals.map((r) => `${r.action} (${r.rule})`).join(', ')}` : '',
    fallbacks.length > 0 ? `fallbacks: ${fallbacks.join(', ')}` : '',
  ].filter((n) => n !== '');
  const tail = notes.length > 0 ? `; ${notes.join('; ')}` : '';
  const spec = executionSpecFor(action, findTarget(doc, incident.service, incident.instance).service, profile, playbook);
  // judge() skipped every candidate without a spec, so the chosen one has one.
  if (!spec.ok) throw new Error(`allowed candidate ${action} has no execution spec: ${spec.notApplicable}`);
  const execution = spec.spec;

  if (chosen.approval) {
    const expiresAt = now + profile.approvalTimeoutMs;
    return {
      kind: 'await_approval',
      action,
      execution,
      fallbacks,
      expiresAt,
      emergency,
      dryRun,
      refusals,
      explanation: {
        policyVersion,
        reason: `${incident.kind} on ${target}: ${action} awaits approval (${GuardrailRule.ApprovalRequired}: ${named(actionSources(doc.frameworks, overrides, action, 'approval'))}) until ${new Date(expiresAt).toISOString()}, then escalates${tail}`,
        candidates,
        inputs: fullInputs,
      },
    };
  }
  return {
    kind: 'plan',
    action,
    execution,
    fallbacks,
    emergency,
    dryRun,
    refusals,
    explanation: {
      policyVersion,
      reason: `${incident.kind} on ${target}: ${action} is allowed automatically (${frameworkText}); ${state.autoActionsInLastHour + 1} of ${profile.maxAutoActionsPerHour} automatic actions this hour${tail}`,
      candidates,
      inputs: fullInputs,
    },
  };
}
