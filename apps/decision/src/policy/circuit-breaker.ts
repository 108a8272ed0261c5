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
 * False when `recent` cannot trip the breaker whatever the fleet's size: too few suspected
 * incidents and too few distinct instances. Lets the caller skip counting the fleet.
 */
export function mightTripBreaker(recent: readonly { suspectedCause?: string; instance: string }[], options: BreakerOptions = DEFAULT_BREAKER_OPTIONS): boolean {
  const suspected = recent.filter((r) => r.suspectedCause !== undefined).length;
  return suspected >= options.minSuspected || new Set(recent.map((r) => r.instance)).size >= options.minInstances;
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
  const inWindow = recent.filter((r) => r.at <= now && now - r.at < options.windowMs);
  const windowText = `${options.windowMs / 1000}s`;
  const suspected = inWindow.filter((r) => r.suspectedCause !== undefined);
  if (suspected.length >= options.minSuspected) {
    const causes = [...new Set(suspected.map((r) => r.suspectedCause))].join(', ');
    return {
      trip: true,
      reason: `circuit_breaker: ${suspected.length} incidents marked as a suspected ${causes} fault within ${windowText} (threshold ${options.minSuspected}); stopping all automatic actions until a human resumes`,
    };
  }
  const instances = new Set(inWindow.map((r) => r.instance));
  const share = instances.size / Math.max(fleetSize, instances.size, 1);
  if (instances.size >= options.minInstances && share >= options.fleetShare) {
    return {
      trip: true,
      reason: `circuit_breaker: ${instances.size} of ${Math.max(fleetSize, instances.size)} instances (${Math.round(share * 100)}%) failed within ${windowText} (threshold ${Math.round(options.fleetShare * 100)}%, at least ${options.minInstances}); more likely the detector or the network than the services; stopping all automatic actions until a human resumes`,
    };
  }
  return {
    trip: false,
    reason: `${suspected.length} suspected-fault incidents and ${instances.size} of ${fleetSize} instances failing within ${windowText}: below the breaker's thresholds`,
  };
}
