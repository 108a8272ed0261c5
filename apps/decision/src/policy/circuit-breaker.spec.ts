import fc from 'fast-check';
import { DEFAULT_BREAKER_OPTIONS, mightTripBreaker, shouldTripBreaker } from './circuit-breaker.js';

const NOW = 1_000_000_000;
const at = (secondsAgo: number, instance: string, suspected = false): { at: number; instance: string; suspectedCause?: string } => ({
  at: NOW - secondsAgo * 1000,
  instance,
  ...(suspected ? { suspectedCause: 'detector_or_network' } : {}),
});

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
    const incident = fc.record({ secondsAgo: fc.integer({ min: 0, max: 120 }), instance: fc.constantFrom('a', 'b', 'c', 'd', 'e'), suspected: fc.boolean() });
    fc.assert(
      fc.property(fc.array(incident, { maxLength: 8 }), fc.integer({ min: 0, max: 1000 }), (incidents, fleet) => {
        const recent = incidents.map((i) => at(i.secondsAgo, i.instance, i.suspected));
        if (shouldTripBreaker(recent, fleet, NOW).trip) expect(mightTripBreaker(recent)).toBe(true);
      }),
    );
    expect(mightTripBreaker([at(1, 'a'), at(2, 'b')])).toBe(false);
    expect(mightTripBreaker([at(1, 'a'), at(2, 'b'), at(3, 'c')])).toBe(true);
  });
});
