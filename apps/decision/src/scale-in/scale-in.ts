import { activeWindow, executionSpecFor, type ExecutionSpec, type TenantDocument } from '../planning/policy-port.js';

/**
 * When a verified scale_out is scaled back in: once its incident has stayed resolved for the
 * plan's `scaleInAfterMs` and no other incident on the service opened meanwhile. The decision
 * service owns this judgement (the executor and the drivers only carry the scale-in out). Pure:
 * the caller reads the facts and the clock.
 */

/** A verified scale_out waiting to be scaled back in (a row of `decision.scale_ins`). */
export interface PendingScaleIn {
  scaleOutId: string;
  /** The scale-in's own remediation id, chosen when the scale_out was verified. */
  remediationId: string;
  incidentId: string;
  tenantId: string;
  service: string;
  instance: string;
  /** When the scale_out was verified (its incident resolved, or the driver's success if later). */
  verifiedAt: Date;
  /** The plan's scaleInAfterMs: how long the service must stay quiet. */
  afterMs: number;
}

/** Another incident on the service than the scale_out's own, open or resolved after the scale_out was verified. */
export interface ServiceIncident {
  incidentId: string;
  openedAt: Date;
  resolvedAt: Date | null;
}

/** What the judgement reads under the tenant's lock. */
export interface ScaleInState {
  tenant: { document: TenantDocument; policyVersion: string } | null;
  /** The breaker that holds the tenant's automatic actions (the global one or its own). */
  breaker: { open: boolean; reason: string | null };
  incidents: readonly ServiceIncident[];
}

export type ScaleInDecision =
  | { kind: 'plan'; execution: ExecutionSpec; reason: string; quietSince: Date; policyVersion: string }
  /** Not yet: judged again at `until` (the row keeps it, so a restart loses nothing). */
  | { kind: 'wait'; until: Date; reason: string }
  /** Never: nothing to scale in with (no document, a runtime that cannot scale in). */
  | { kind: 'skip'; reason: string; policyVersion: string | null };

export interface ScaleInOptions {
  /** The earliest a held or interrupted scale-in is judged again, so that a zero `afterMs` never spins. */
  recheckMs: number;
}

/** Since when the service has been quiet; null while one of its incidents is still open. */
export function quietSince(pending: Pick<PendingScaleIn, 'verifiedAt'>, incidents: readonly ServiceIncident[]): Date | null {
  let since = pending.verifiedAt.getTime();
  for (const incident of incidents) {
    if (incident.resolvedAt === null) return null;
    since = Math.max(since, incident.resolvedAt.getTime());
  }
  return new Date(since);
}

/**
 * Whether to scale the service back in now, first reason wins:
 * 1. the tenant has no document → skip;
 * 2. the service's runtime cannot scale in (the host agent, today) → skip: not applicable;
 * 3. a circuit breaker holds the tenant's automatic actions → wait;
 * 4. another incident on the service is open → wait (at least `afterMs` more: it must resolve,
 *    then the service must stay quiet that long);
 * 5. the service has not been quiet for `afterMs` since the scale_out was verified or since the
 *    last of its other incidents resolved → wait until then;
 * 6. inside a change freeze or a maintenance window → wait until it ends (a scale-in is never an
 *    emergency);
 * 7. otherwise plan it: back to the instances the inventory declares, never below.
 * Residency and isolation do not apply (a scale-in places nothing), nor the hourly cap, the
 * cooldown or the concurrency cap (it only undoes an automatic action that was counted, and
 * refusing it would leave the extra instances running): see the README.
 */
export function decideScaleIn(pending: PendingScaleIn, state: ScaleInState, now: Date, options: ScaleInOptions): ScaleInDecision {
  const nowMs = now.getTime();
  const { tenant } = state;
  if (!tenant) return { kind: 'skip', reason: `tenant ${pending.tenantId} has no document: no inventory to scale ${pending.service} back to`, policyVersion: null };
  const { document, policyVersion } = tenant;
  const service = document.inventory.services.find((s) => s.service === pending.service) ?? null;
  // Residency does not apply: a scale-in places nothing (allowedRegions is not read for it).
  const spec = executionSpecFor('scale_in', service, { allowedRegions: 'any' }, {});
  if (!spec.ok) return { kind: 'skip', reason: `scale_in is not applicable: ${spec.notApplicable}`, policyVersion };
  const later = (ms: number) => new Date(nowMs + Math.max(ms, options.recheckMs));

  if (state.breaker.open) return { kind: 'wait', until: later(0), reason: `held: the circuit breaker is open${state.breaker.reason ? `: ${state.breaker.reason}` : ''}` };
  const since = quietSince(pending, state.incidents);
  if (since === null) {
    const open = state.incidents.filter((i) => i.resolvedAt === null).map((i) => i.incidentId);
    return { kind: 'wait', until: later(pending.afterMs), reason: `incident ${open.join(', ')} on ${pending.service} is open: the service must stay quiet for ${pending.afterMs} ms after it resolves` };
  }
  const due = since.getTime() + pending.afterMs;
  if (due > nowMs) return { kind: 'wait', until: new Date(due), reason: `${pending.service} has been quiet since ${since.toISOString()}: scaling in at ${new Date(due).toISOString()}` };
  const window = activeWindow(document.changeFreezes, nowMs) ?? activeWindow(document.maintenanceWindows, nowMs);
  if (window) return { kind: 'wait', until: new Date(Math.max(Date.parse(window.end), nowMs + options.recheckMs)), reason: `inside a change freeze or maintenance window until ${window.end}` };

  const declared = spec.spec.parameters.minInstances ?? 1;
  const interrupted = state.incidents.length > 0 ? ` and its last other incident resolved at ${since.toISOString()}` : '';
  return {
    kind: 'plan',
    execution: spec.spec,
    quietSince: since,
    policyVersion,
    reason: `scale_out ${pending.scaleOutId} was verified at ${pending.verifiedAt.toISOString()}${interrupted}; ${pending.service} has stayed quiet for ${pending.afterMs} ms: scaling back in to the ${declared} declared instances`,
  };
}
