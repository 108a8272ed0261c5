export interface BreakerOptions {
  /** Incidents that opened within this long before `now` count as arriving together. */
  windowMs: number;
  /** This many incidents marked as a suspected detector or network fault trip the breaker. */
  minSuspected: number;
  /** This share (0..1) of the fleet's instances failing together trips the breaker … */
  fleetShare: number;
  /** … provided at least this many distinct instances fail (a fleet of two is not a storm). */
  minInstances: number;
}

export const DEFAULT_BREAKER_OPTIONS: BreakerOptions = { windowMs: 60_000, minSuspected: 2, fleetShare: 0.3, minInstances: 3 };

/**
 * What the trip rule looks at, and all it looks at: of the incidents in the window, how many are
 * marked as a suspected detector or network fault, and how many distinct instances fail. The
 * caller may count them in SQL (breakerRepository.readWindow) instead of reading the rows.
 */
export interface BreakerCounts {
  suspected: number;
  instances: number;
}

/** Whether an incident at `at` lies in the breaker's window ending at `now`. */
export function inBreakerWindow(at: number, now: number, options: BreakerOptions = DEFAULT_BREAKER_OPTIONS): boolean {
  return at <= now && now - at < options.windowMs;
}

/** The counts of `recent` (incidents outside the window left out): the definition the SQL counts follow. */
export function countBreakerWindow(
  recent: readonly { at: number; suspectedCause?: string; instance: string }[],
  now: number,
  options: BreakerOptions = DEFAULT_BREAKER_OPTIONS,
): BreakerCounts {
  const inWindow = recent.filter((r) => inBreakerWindow(r.at, now, options));
  return { suspected: inWindow.filter((r) => r.suspectedCause !== undefined).length, instances: new Set(inWindow.map((r) => r.instance)).size };
}

/**
 * The counts once one more incident is added — the one being decided, not stored yet —
 * given whether its instance is among those counted already.
 */
export function withIncident(
  counts: BreakerCounts,
  incident: { at: number; suspectedCause?: string; instanceCounted: boolean },
  now: number,
  options: BreakerOptions = DEFAULT_BREAKER_OPTIONS,
): BreakerCounts {
  if (!inBreakerWindow(incident.at, now, options)) return counts;
  return { suspected: counts.suspected + (incident.suspectedCause !== undefined ? 1 : 0), instances: counts.instances + (incident.instanceCounted ? 0 : 1) };
}

/**
 * False when `counts` cannot trip the breaker whatever the fleet's size: too few suspected
 * incidents and too few distinct instances. Lets the caller skip counting the fleet.
 */
export function mightTripBreaker(counts: BreakerCounts, options: BreakerOptions = DEFAULT_BREAKER_OPTIONS): boolean {
  return counts.suspected >= options.minSuspected || counts.instances >= options.minInstances;
}

/** The trip rule itself (shouldTripBreaker explains it): whether these counts open the breaker on a fleet of `fleetSize`. */
export function breakerTrips(counts: BreakerCounts, fleetSize: number, options: BreakerOptions = DEFAULT_BREAKER_OPTIONS): boolean {
  return counts.suspected >= options.minSuspected || (counts.instances >= options.minInstances && fleetShareOf(counts.instances, fleetSize) >= options.fleetShare);
}

function fleetShareOf(instances: number, fleetSize: number): number {
  return instances / Math.max(fleetSize, instances, 1);
}

/**
 * Whether the global circuit breaker should open: when incidents arrive together that point at
 * the detector or the network rather than the services — several marked as a suspected fault,
 * or an abnormal share of the fleet at once. Restarting a healthy fleet because the network
 * dropped heartbeats turns a blip into an outage; once open, the breaker stays open until a
 * human resumes (the caller's state, not this function's).
 */
export function shouldTripBreaker(
  recent: readonly { at: number; suspectedCause?: string; instance: string }[],
  fleetSize: number,
  now: number,
  options: BreakerOptions = DEFAULT_BREAKER_OPTIONS,
): { trip: boolean; reason: string } {
  const windowText = `${options.windowMs / 1000}s`;
  const counts = countBreakerWindow(recent, now, options);
  if (!breakerTrips(counts, fleetSize, options)) {
    return {
      trip: false,
      reason: `${counts.suspected} suspected-fault incidents and ${counts.instances} of ${fleetSize} instances failing within ${windowText}: below the breaker's thresholds`,
    };
  }
  if (counts.suspected >= options.minSuspected) {
    const causes = [...new Set(recent.filter((r) => r.suspectedCause !== undefined && inBreakerWindow(r.at, now, options)).map((r) => r.suspectedCause))].join(', ');
    return {
      trip: true,
      reason: `circuit_breaker: ${counts.suspected} incidents marked as a suspected ${causes} fault within ${windowText} (threshold ${options.minSuspected}); stopping all automatic actions until a human resumes`,
    };
  }
  const share = fleetShareOf(counts.instances, fleetSize);
  return {
    trip: true,
    reason: `circuit_breaker: ${counts.instances} of ${Math.max(fleetSize, counts.instances)} instances (${Math.round(share * 100)}%) failed within ${windowText} (threshold ${Math.round(options.fleetShare * 100)}%, at least ${options.minInstances}); more likely the detector or the network than the services; stopping all automatic actions until a human resumes`,
  };
}
