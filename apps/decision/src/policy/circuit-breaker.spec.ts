import fc from 'fast-check';
import { breakerTrips, countBreakerWindow, DEFAULT_BREAKER_OPTIONS, inBreakerWindow, mightTripBreaker, shouldTripBreaker, withIncident } from './circuit-breaker.js';

const NOW = 1_000_000_000;
const at = (secondsAgo: number, instance: string, suspected = false): { at: number; instance: string; suspectedCause?: string } => ({
  at: NOW - secondsAgo * 1000,
  instance,
  ...(suspected ? { suspectedCause: 'detector_or_network' } : {}),
});

// Incidents from 5 s in the future to 2 minutes ago, on a few instances: both sides of the window.
const incident = fc.record({ secondsAgo: fc.integer({ min: -5, max: 120 }), instance: fc.constantFrom('a', 'b', 'c', 'd', 'e'), suspected: fc.boolean() });
const incidents = fc.array(incident, { maxLength: 8 }).map((list) => list.map((i) => at(i.secondsAgo, i.instance, i.suspected)));
const thresholds = fc.record({ minSuspected: fc.integer({ min: 1, max: 4 }), minInstances: fc.integer({ min: 1, max: 5 }), fleetShare: fc.double({ min: 0.01, max: 1, noNaN: true }) });

describe('shouldTripBreaker', () => {
  const cases: { name: string; recent: ReturnType<typeof at>[]; fleet: number; trip: boolean; reason: RegExp }[] = [
    { name: 'one ordinary incident', recent: [at(1, 'a')], fleet: 10, trip: false, reason: /below the breaker's thresholds/ },
    { name: 'one suspected incident', recent: [at(1, 'a', true), at(2, 'b')], fleet: 100, trip: false, reason: /1 suspected-fault incidents/ },
    {
      name: 'two suspected incidents together',
      recent: [at(1, 'a', true), at(30, 'b', true)],
      fleet: 100,
      trip: true,
      reason: /^circuit_breaker: 2 incidents marked as a suspected detector_or_network fault within 60s/,
    },
    { name: 'two suspected incidents a window apart', recent: [at(1, 'a', true), at(61, 'b', true)], fleet: 100, trip: false, reason: /below/ },
    { name: '3 of 10 instances at once (30 %)', recent: [at(1, 'a'), at(2, 'b'), at(3, 'c')], fleet: 10, trip: true, reason: /^circuit_breaker: 3 of 10 instances \(30%\) failed within 60s/ },
    { name: '3 of 11 instances at once (27 %)', recent: [at(1, 'a'), at(2, 'b'), at(3, 'c')], fleet: 11, trip: false, reason: /3 of 11 instances/ },
    { name: 'one instance failing repeatedly is not a fleet', recent: [at(1, 'a'), at(2, 'a'), at(3, 'a'), at(4, 'a')], fleet: 2, trip: false, reason: /1 of 2 instances/ },
    { name: 'two of a fleet of two: below the minimum count', recent: [at(1, 'a'), at(2, 'b')], fleet: 2, trip: false, reason: /2 of 2/ },
    { name: 'incidents older than the window do not count', recent: [at(1, 'a'), at(70, 'b'), at(80, 'c')], fleet: 5, trip: false, reason: /1 of 5/ },
  ];

  it.each(cases)('$name → trip $trip', ({ recent, fleet, trip, reason }) => {
    const result = shouldTripBreaker(recent, fleet, NOW);
    expect(result.trip).toBe(trip);
    expect(result.reason).toMatch(reason);
  });

  it('takes its thresholds as options', () => {
    const recent = [at(1, 'a'), at(2, 'b')];
    expect(shouldTripBreaker(recent, 4, NOW).trip).toBe(false);
    expect(shouldTripBreaker(recent, 4, NOW, { ...DEFAULT_BREAKER_OPTIONS, minInstances: 2 }).trip).toBe(true);
  });

  it('never trips when mightTripBreaker says it cannot, whatever the fleet size (the shortcut is safe)', () => {
    fc.assert(
      fc.property(incidents, fc.integer({ min: 0, max: 1000 }), (recent, fleet) => {
        if (shouldTripBreaker(recent, fleet, NOW).trip) expect(mightTripBreaker(countBreakerWindow(recent, NOW))).toBe(true);
      }),
    );
    expect(mightTripBreaker(countBreakerWindow([at(1, 'a'), at(2, 'b')], NOW))).toBe(false);
    expect(mightTripBreaker(countBreakerWindow([at(1, 'a'), at(2, 'b'), at(3, 'c')], NOW))).toBe(true);
  });

  it('decides on the counts alone exactly as on the rows (the counts may come from SQL)', () => {
    fc.assert(
      fc.property(incidents, fc.integer({ min: 0, max: 20 }), thresholds, (recent, fleet, t) => {
        const o = { ...DEFAULT_BREAKER_OPTIONS, ...t };
        expect(breakerTrips(countBreakerWindow(recent, NOW, o), fleet, o)).toBe(shouldTripBreaker(recent, fleet, NOW, o).trip);
      }),
    );
  });
});

describe('countBreakerWindow', () => {
  it('counts suspected incidents and distinct instances inside the window only', () => {
    expect(countBreakerWindow([at(1, 'a', true), at(2, 'a'), at(59, 'b', true), at(60, 'c', true), at(-1, 'd', true)], NOW)).toEqual({ suspected: 2, instances: 2 });
    expect(countBreakerWindow([], NOW)).toEqual({ suspected: 0, instances: 0 });
  });
});

describe('withIncident', () => {
  it('adds the incident being decided as the rows would have: once, on its own instance only if new, and only inside the window', () => {
    const base = { suspected: 1, instances: 2 };
    expect(withIncident(base, { at: NOW - 1000, suspectedCause: 'detector_or_network', instanceCounted: false }, NOW)).toEqual({ suspected: 2, instances: 3 });
    expect(withIncident(base, { at: NOW - 1000, instanceCounted: true }, NOW)).toEqual({ suspected: 1, instances: 2 });
    expect(withIncident(base, { at: NOW - 60_000, suspectedCause: 'detector_or_network', instanceCounted: false }, NOW)).toEqual(base);
    expect(withIncident(base, { at: NOW + 1, suspectedCause: 'detector_or_network', instanceCounted: false }, NOW)).toEqual(base);
  });

  it('matches counting the rows with the incident appended', () => {
    fc.assert(
      fc.property(incidents, incident, (stored, i) => {
        const self = at(i.secondsAgo, i.instance, i.suspected);
        const instanceCounted = stored.some((r) => r.instance === self.instance && inBreakerWindow(r.at, NOW));
        expect(withIncident(countBreakerWindow(stored, NOW), { ...self, instanceCounted }, NOW)).toEqual(countBreakerWindow([...stored, self], NOW));
      }),
    );
  });
});
