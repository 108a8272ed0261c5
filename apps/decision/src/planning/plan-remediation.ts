import type { CandidateConsidered, IncidentKind, RemediationAction } from '@autoheal/contracts';
import type { TenantProfile } from '../tenants/tenant-profile.js';
import { DEFAULT_PLAYBOOK, type Playbook } from './playbook.js';

/** Compliance rules that can refuse an automatic action; each refusal is published. */
export enum ComplianceRule {
  ActionNotAllowed = 'action_not_allowed',
  MaxAutoActionsPerHour = 'max_auto_actions_per_hour',
}

export interface PlanInput {
  incident: { kind: IncidentKind; service: string; instance: string };
  /** Null when the tenant has no profile: then nothing automatic is allowed. */
  profile: TenantProfile | null;
  /** Automatic actions already planned for this tenant in the hour before `now`. */
  actionsInLastHour: number;
  /** When the decision is taken; the window `actionsInLastHour` was counted over ends here. */
  now: Date;
  playbook?: Playbook;
}

export interface Refusal {
  rule: ComplianceRule;
  action: RemediationAction;
  reason: string;
}

export type PlanDecision =
  | { kind: 'plan'; action: RemediationAction; reason: string; candidates: CandidateConsidered[] }
  | { kind: 'escalate'; reason: string; candidates: CandidateConsidered[]; refusal?: Refusal };

/**
 * Chooses the first action of the playbook that the tenant's profile allows automatically,
 * or escalates to a human saying why not. Pure: the caller supplies the profile and the count
 * of recent automatic actions (counted under a per-tenant lock, so the cap holds across processes).
 */
export function planRemediation(input: PlanInput): PlanDecision {
  const { incident, profile, actionsInLastHour } = input;
  const actions = (input.playbook ?? DEFAULT_PLAYBOOK)[incident.kind] ?? [];
  const target = `${incident.service}/${incident.instance}`;

  if (actions.length === 0) {
    return { kind: 'escalate', reason: `no playbook for ${incident.kind} on ${target}; escalating to a human`, candidates: [] };
  }
  if (profile === null) {
    const why = 'the tenant has no compliance profile, so nothing may run automatically';
    return {
      kind: 'escalate',
      reason: `${why}; escalating ${incident.kind} on ${target} to a human`,
      candidates: actions.map((action) => ({ action, allowed: false, reason: why })),
    };
  }

  const regimes = profile.frameworks.length > 0 ? ` (${profile.frameworks.join(', ')})` : '';
  const capReached = actionsInLastHour >= profile.maxAutoActionsPerHour;
  const candidates: CandidateConsidered[] = [];
  const refusals: Refusal[] = [];
  let chosen: RemediationAction | undefined;

  for (const action of actions) {
    if (!profile.autoActions.includes(action)) {
      const reason = `${action} is not among the actions the tenant's profile${regimes} allows automatically`;
      candidates.push({ action, allowed: false, reason });
      refusals.push({ rule: ComplianceRule.ActionNotAllowed, action, reason });
    } else if (capReached) {
      const reason = `the tenant's limit of ${profile.maxAutoActionsPerHour} automatic actions per hour${regimes} is reached (${actionsInLastHour} in the last hour)`;
      candidates.push({ action, allowed: false, reason });
      refusals.push({ rule: ComplianceRule.MaxAutoActionsPerHour, action, reason });
    } else if (chosen === undefined) {
      chosen = action;
      candidates.push({ action, allowed: true, reason: 'allowed automatically by the tenant profile' });
    } else {
      candidates.push({ action, allowed: true, reason: `allowed, but ${chosen} comes first in the playbook` });
    }
  }

  if (chosen !== undefined) {
    return {
      kind: 'plan',
      action: chosen,
      reason: `${incident.kind} on ${target}: ${chosen} is allowed automatically (${actionsInLastHour + 1} of ${profile.maxAutoActionsPerHour} automatic actions this hour)`,
      candidates,
    };
  }
  const refusal = refusals[0];
  return { kind: 'escalate', reason: `${refusal.reason}; escalating ${incident.kind} on ${target} to a human`, candidates, refusal };
}
