import { activeWindow, executionSpecFor, type ExecutionSpec } from '../planning/policy-port.js';
import type { DecisionState, IncidentFacts } from '../planning/remediations.repository.js';
import { decideOn } from '../planning/take-decision.js';
import { profileOf } from '../tenants/tenants.service.js';

/**
 * Whether a service's host agent may hold an armed switchover: a pre-authorisation, taken by the
 * decision service under the tenant's policy before any fault, to heal the next crashed instance
 * of the service at once on the agent — switched to a ready warm spare, or restarted in place
 * where the policy's heal is a restart (see the README, *Armed switchover*). The question asked is
 * the one a crash would ask: the policy is evaluated (decideOn, the one policy path) for a crash
 * incident on the service, now. Pure: the caller reads the state and the clock.
 */

/** A row of `decision.switchover_arms`: the service's arm as last judged. */
export interface SwitchoverArmRow {
  tenantId: string;
  service: string;
  status: 'new' | 'armed' | 'withheld' | 'used' | 'failed';
  /** The last arm_switchover planned (also a withdrawal's). */
  remediationId: string | null;
  policyVersion: string | null;
  /** When the arm planned last lapses on the agent. */
  expiresAt: Date | null;
  dueAt: Date;
  reason: string;
  /** Set while `used`: the incident whose crash the agent healed under the arm, when, and whether that incident's remediation is verified yet. */
  used: { incidentId: string; at: Date; verified: boolean } | null;
}

export interface ArmOptions {
  /** How long an arm holds (its armTtlMs). */
  ttlMs: number;
  /** How often an arm is judged again (a tenant apply, a freeze, the breaker, the cap are seen within this). */
  recheckMs: number;
}

export type ArmHeal = 'switch' | 'restart';

export type ArmDecision =
  /** Plan an arm_switchover (a new one, or the renewal of one about to lapse or made under an older policy). */
  | { kind: 'arm'; instance: string; heals: ArmHeal[]; execution: ExecutionSpec; policyVersion: string; reason: string; inputs: Record<string, unknown> }
  /** The arm held is good, or a used arm is not to be renewed yet: judged again at `until`. */
  | { kind: 'keep'; until: Date; reason: string }
  /**
   * Not allowed now. `withdraw`: an arm may still hold on the agent; plan an arm_switchover with
   * armTtlMs 0 to that instance of the service (without an instance to address, it lapses).
   */
  | { kind: 'withhold'; withdraw: { instance: string; execution: ExecutionSpec } | null; policyVersion: string | null; reason: string; inputs: Record<string, unknown> };

/**
 * Arms the service while a crash of it would be healed automatically by its playbook's first
 * step, restart or replace, and nothing stands in the way:
 * 1. the tenant has a document, the service is in its inventory on the agent runtime
 *    (executionSpecFor('arm_switchover'));
 * 2. no change freeze is in force (even for an emergency candidate: an arm is no emergency);
 * 3. the policy, asked about a crash of the service's first declared instance now, plans its
 *    playbook's first candidate automatically (not awaiting approval, not a dry run): the profile
 *    allows it automatically, the breaker is closed, the hourly cap is not exhausted, no
 *    maintenance window. Per-target pacing (cooldown, concurrency cap) is left out: an arm is
 *    used by whichever instance crashes first, and that crash's own incident is paced as usual.
 * What it allows (`heals`): a restart → `switch` (with warm spares) and `restart`; a replace →
 * `switch` only, so a service without spares whose crash is replaced gets no arm (a restart in
 * place is not the fresh instance a replace promises).
 * Allowed: an arm planned under another policy version, or lapsing within half its TTL, or
 * failed, is replaced by a new one; a used arm too, but only once the incident it healed is
 * verified and the profile's cooldown has passed since (at the latest its TTL after it was used,
 * whatever became of that incident): so a process that crashes again soon after a heal under an
 * arm finds no arm, and goes the control plane's way (guardrails, breaker, escalation).
 * Otherwise kept. Not allowed: withheld, and withdrawn if one may still hold.
 */
export function decideArm(row: SwitchoverArmRow, state: DecisionState, now: Date, options: ArmOptions): ArmDecision {
  const nowMs = now.getTime();
  const live = row.status === 'armed' && row.expiresAt !== null && row.expiresAt.getTime() > nowMs;
  const tenant = state.tenant;
  const service = tenant?.document.inventory.services.find((s) => s.service === row.service) ?? null;
  const instance = service?.instances[0]?.instance ?? null;
  // A withdrawal goes to the agent the way the arm did (the agent runtime; no guardrail applies: it only takes authority away).
  const withdraw = live && instance !== null ? { instance, execution: { runtime: { kind: 'agent' as const }, parameters: { armTtlMs: 0 }, verify: { deadlineMs: options.recheckMs } } } : null;
  const withhold = (reason: string, policyVersion: string | null, inputs: Record<string, unknown> = {}): ArmDecision => ({ kind: 'withhold', withdraw, policyVersion, reason, inputs });
  if (!tenant) return withhold(`tenant ${row.tenantId} has no document`, null);
  const { document, policyVersion } = tenant;
  const spec = executionSpecFor('arm_switchover', service, { allowedRegions: 'any' }, {});
  if (!service || !instance || !spec.ok) return withhold(`arm_switchover is not applicable: ${spec.ok ? `${row.service} is not in the inventory` : spec.notApplicable}`, policyVersion);
  const freeze = activeWindow(document.changeFreezes, nowMs);
  if (freeze) return withhold(`inside a change freeze until ${freeze.end}: no heal is pre-authorised`, policyVersion, { changeFreezeEnd: freeze.end });

  const crash: IncidentFacts = { incidentId: row.remediationId ?? '00000000-0000-0000-0000-000000000000', kind: 'crashed', severity: 'major', service: row.service, instance, openedAt: nowMs };
  const paceless: DecisionState = { ...state, inFlightOnService: 0, lastActionOnTarget: undefined, existingRemediationId: null };
  const { decision } = decideOn(paceless, crash, now, { recheckMs: options.recheckMs }, []);
  const inputs = { askedAbout: { kind: 'crashed', service: row.service, instance: crash.instance }, policyDecision: decision.kind, policyReason: decision.explanation.reason, autoActionsInLastHour: state.autoActionsInLastHour };
  if (decision.kind !== 'plan') return withhold(`a crash of ${row.service} would not be healed automatically now (${decision.kind}): ${decision.explanation.reason}`, policyVersion, inputs);
  if (decision.action !== 'restart' && decision.action !== 'replace') return withhold(`a crash of ${row.service} would be healed with ${decision.action}, not restart or replace: nothing the agent may do on its own`, policyVersion, inputs);
  const spares = (service.warmSpares ?? 0) > 0;
  const heals: ArmHeal[] = decision.action === 'restart' ? (spares ? ['switch', 'restart'] : ['restart']) : spares ? ['switch'] : [];
  if (heals.length === 0) return withhold(`a crash of ${row.service} would be healed with replace, and it keeps no warm spare to switch to: nothing the agent may do on its own`, policyVersion, inputs);
  if (decision.refusals.length > 0) return withhold(`the playbook's first step for a crash of ${row.service} is refused (${decision.refusals[0].reason}); ${decision.action} would follow, not the switch`, policyVersion, inputs);
  if (decision.dryRun) return withhold(`a crash of ${row.service} would be healed in dry run only: nothing is executed, nothing is armed`, policyVersion, inputs);

  if (row.status === 'used' && row.used) {
    const { incidentId, at, verified } = row.used;
    const cooldownMs = profileOf(document).cooldownMs;
    const readyAt = verified ? at.getTime() + cooldownMs : at.getTime() + options.ttlMs;
    if (readyAt > nowMs) {
      const why = verified ? `its incident ${incidentId} is verified; armed again once the cooldown (${cooldownMs} ms) has passed` : `armed again once its incident ${incidentId} is verified and the cooldown (${cooldownMs} ms) has passed, at the latest at ${new Date(readyAt).toISOString()}`;
      return { kind: 'keep', until: new Date(Math.min(readyAt, nowMs + options.recheckMs)), reason: `arm ${row.remediationId} was used at ${at.toISOString()}: ${why}` };
    }
  }
  const renewAt = (row.expiresAt?.getTime() ?? 0) - options.ttlMs / 2;
  if (live && row.policyVersion === policyVersion && renewAt > nowMs) {
    return { kind: 'keep', until: new Date(Math.min(renewAt, nowMs + options.recheckMs)), reason: `armed under ${policyVersion} until ${row.expiresAt!.toISOString()}` };
  }
  const why = live ? (row.policyVersion !== policyVersion ? `policy ${policyVersion} replaces ${row.policyVersion}` : 'renewed before it lapses') : row.status === 'used' ? 'the last arm was used' : 'no arm holds';
  return {
    kind: 'arm',
    instance,
    heals,
    execution: { ...spec.spec, parameters: { armTtlMs: options.ttlMs, armHeals: heals } },
    policyVersion,
    inputs,
    reason: `a crash of ${row.service} would be healed automatically with ${decision.action} (${decision.explanation.reason}); ${why}: arming the agent to ${heals.map((h) => (h === 'switch' ? 'switch to a warm spare' : 'restart it in place')).join(', or else ')} for ${options.ttlMs} ms`,
  };
}
