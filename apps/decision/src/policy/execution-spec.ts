import { runtimeCan, type ActionParameters, type RemediationAction, type RemediationRuntime } from '@autoheal/contracts';
import type { ProfileThresholds } from './compliance-presets.js';
import type { Playbook } from './playbooks.js';
import type { InventoryService } from './tenant-document.js';

/** What the executor needs for a plan besides its target: the plan carries it, the executor never guesses. */
export interface ExecutionSpec {
  runtime: RemediationRuntime;
  parameters: ActionParameters;
  /** The verify deadline and, when the playbook sets one, the window the target's health must hold for after the resolution. */
  verify: { deadlineMs: number; windowMs?: number };
}

/** How long the incident has to resolve after the driver's success, unless the playbook says. */
export const DEFAULT_VERIFY_DEADLINE_MS = 60_000;
/** scale_out without a declared cap: up to twice the declared instances, back in after 10 minutes resolved. */
export const DEFAULT_SCALE_IN_AFTER_MS = 10 * 60_000;

/** How long an armed switchover holds on the agent; the decision service renews it before it lapses. */
export const DEFAULT_ARM_TTL_MS = 10 * 60_000;

/** A service the inventory does not declare runs on the agent, as every target did before runtimes were declared. */
const AGENT: RemediationRuntime = { kind: 'agent' };

export type ExecutionSpecResult = { ok: true; spec: ExecutionSpec } | { ok: false; notApplicable: string };

/**
 * The runtime, parameters and verification of `action` on the service, from the tenant's
 * inventory and profile; or why the action cannot apply to it (the runtime cannot carry it out,
 * no allowed standby region, no declared throttle limit). A candidate that cannot apply is
 * skipped, never planned: the default playbooks plan only what the target's runtime can execute.
 */
export function executionSpecFor(
  action: RemediationAction,
  service: InventoryService | null,
  profile: Pick<ProfileThresholds, 'allowedRegions'>,
  playbook: Pick<Playbook, 'verify'>,
): ExecutionSpecResult {
  const runtime = service?.runtime ?? AGENT;
  const windowMs = playbook.verify?.windowMs;
  const verify = { deadlineMs: playbook.verify?.deadlineMs ?? DEFAULT_VERIFY_DEADLINE_MS, ...(windowMs !== undefined ? { windowMs } : {}) };
  const name = service?.service ?? 'the service';
  if (!runtimeCan(runtime, action)) {
    const what = runtime.kind === 'kubernetes' ? `the ${runtime.workload} ${runtime.name}` : `the ${runtime.kind} runtime`;
    return { ok: false, notApplicable: `${what} of ${name} cannot ${action}` };
  }
  const ok = (parameters: ActionParameters): ExecutionSpecResult => ({ ok: true, spec: { runtime, parameters, verify } });
  switch (action) {
    case 'restart':
    case 'replace':
      return ok({});
    case 'rollback':
      // The release before the current one: the agent's release history, the Deployment's revisions.
      return ok({ toRelease: 'previous' });
    case 'scale_out': {
      const declared = service?.instances.length ?? 1;
      return ok({ maxInstances: service?.scaleOut?.maxInstances ?? declared * 2, scaleInAfterMs: service?.scaleOut?.scaleInAfterMs ?? DEFAULT_SCALE_IN_AFTER_MS });
    }
    case 'failover': {
      const standby = service?.standbyRegions ?? [];
      if (standby.length === 0) return { ok: false, notApplicable: `the inventory declares no standby region for ${name} to fail over to` };
      // Residency is a guardrail judged on every standby region (a refusal, audited as such), not
      // here; the target is the first standby region it allows.
      const allowed = profile.allowedRegions;
      return ok({ toRegion: standby.find((r) => allowed === 'any' || allowed.includes(r)) ?? standby[0] });
    }
    case 'scale_in':
      // Never below what the inventory declares: the driver stops only instances above it, newest first.
      return ok({ minInstances: Math.max(1, service?.instances.length ?? 1) });
    case 'arm_switchover':
      // What the arm allows (switch, restart) is the arm judgement's: it depends on the policy's first step and the spares.
      return ok({ armTtlMs: DEFAULT_ARM_TTL_MS });
    case 'throttle':
      return service?.throttle
        ? ok({ limitPerSecond: service.throttle.limitPerSecond, ttlMs: service.throttle.ttlMs })
        : { ok: false, notApplicable: `the inventory declares no throttle limit for ${name}` };
    default: {
      const unreachable: never = action;
      throw new Error(`no execution spec for ${String(unreachable)}`);
    }
  }
}
