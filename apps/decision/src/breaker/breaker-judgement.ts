import {
  inBreakerWindow,
  mightTripGlobal,
  tenantBreakerVerdict,
  tenantStorms,
  withIncident,
  type BreakerOptions,
  type InventoryStanding,
  type TenantWindow,
} from '../planning/policy-port.js';
import type { BreakerWindow } from './breaker.repository.js';

/**
 * The incident a breaker is asked about, as the runner describes it: what it adds to its tenant's
 * window, and how it stood against the tenant's inventory when decided.
 */
export interface BreakerIncident {
  tenantId: string;
  incidentId: string;
  service: string;
  instance: string;
  /** When the incident opened (its detectedAt), epoch ms. */
  at: number;
  suspectedCause?: string;
  serviceLevel: boolean;
  standing: InventoryStanding;
  declaredInstances: number;
}

/** The incident as a tenant's breaker window names its instance (`service/instance`). */
export function instanceKeyOf(incident: Pick<BreakerIncident, 'service' | 'instance'>): string {
  return `${incident.service}/${incident.instance}`;
}

/** What one reading of a tenant's window says, with the incident being decided added to it. */
export interface WindowJudgement {
  /** The tenant's window, this incident counted when it counts and is not counted already. */
  own: TenantWindow;
  /** The tenant's breaker opens on this window (it is not open yet); with the reason it records. */
  tenantTrip: { reason: string } | null;
  /** The tenant's own window storms (whether its breaker is open or not). */
  storming: boolean;
  /** The incident's suspected cause, when it adds to the window's suspected count. */
  selfSuspected: string[];
  /** Only a tenant whose declared inventory storms counts toward the global breaker. */
  countsGlobally: boolean;
  /** The global count is worth reading: the suspected count alone may trip it, or this tenant storms. */
  mightTripGlobal: boolean;
  /** The suspected count alone reaches the global breaker's threshold. */
  suspectedReached: boolean;
}

/**
 * The breakers' one judgement of a tenant's window (policy/circuit-breaker.ts holds the rules):
 * the same function answers before the decision and after its commit. A redelivered incident is
 * stored already and must not count twice; a service-level incident groups instance incidents
 * that count already; an undeclared one counts toward nothing.
 */
export function judgeWindow(incident: BreakerIncident, window: BreakerWindow, now: Date, options: BreakerOptions): WindowJudgement {
  const own = withIncident(
    { declaredInstances: incident.declaredInstances, failing: window.failing },
    { at: incident.at, standing: incident.standing, serviceLevel: incident.serviceLevel, alreadyCounted: window.includesIncident || window.includesInstance },
    now.getTime(),
    options,
  );
  const storming = tenantStorms(own, options);
  const addsSuspected =
    incident.suspectedCause !== undefined && !window.includesIncident && incident.standing !== 'undeclared' && inBreakerWindow(incident.at, now.getTime(), options);
  const selfSuspected = addsSuspected && incident.suspectedCause !== undefined ? [incident.suspectedCause] : [];
  const suspected = window.suspected + selfSuspected.length;
  const countsGlobally = storming && incident.declaredInstances > 0;
  return {
    own,
    tenantTrip: storming && !window.tenantOpen ? { reason: tenantBreakerVerdict(incident.tenantId, own, options).reason } : null,
    storming,
    selfSuspected,
    countsGlobally,
    mightTripGlobal: !window.globalOpen && mightTripGlobal(suspected, countsGlobally, options),
    suspectedReached: suspected >= options.minSuspected,
  };
}

/**
 * Whether the incident, added to its tenant's window, would open a breaker before it is decided:
 * its tenant's, when the tenant's own window storms; the global one, when the suspected-fault
 * count reaches its threshold. Several tenants storming can only start with one of them starting
 * to storm, which this sees; the check after commit catches the rest.
 */
export function wouldTrip(judgement: WindowJudgement, window: BreakerWindow): boolean {
  if (window.globalOpen) return false;
  return judgement.tenantTrip !== null || judgement.suspectedReached;
}
