import { DEFAULT_BREAKER_OPTIONS } from '../policy/circuit-breaker.js';
import { judgeWindow, wouldTrip, type BreakerIncident } from './breaker-judgement.js';
import type { BreakerWindow } from './breaker.repository.js';

const now = new Date('2026-01-01T12:00:00Z');
const options = { ...DEFAULT_BREAKER_OPTIONS, tenantShare: 0.3, tenantMinInstances: 3, minSuspected: 2 };

const incident = (over: Partial<BreakerIncident> = {}): BreakerIncident => ({
  tenantId: 'acme',
  incidentId: '00000000-0000-7000-8000-000000000001',
  service: 'api',
  instance: 'api-3',
  at: now.getTime() - 1_000,
  serviceLevel: false,
  standing: 'declared',
  declaredInstances: 10,
  ...over,
});

const window = (over: Partial<BreakerWindow> = {}): BreakerWindow => ({
  globalOpen: false,
  tenantOpen: false,
  globalReason: null,
  tenantReason: null,
  suspected: 0,
  failing: 2,
  includesIncident: false,
  includesInstance: false,
  ...over,
});

describe('judgeWindow / wouldTrip: one judgement before the decision and after its commit', () => {
  it.each([
    // [what, incident, window, tenant trips, would trip]
    ['the third failing instance of ten trips the tenant', incident(), window(), true, true],
    ['an instance counted already does not count twice', incident(), window({ includesInstance: true }), false, false],
    ['a redelivered incident (stored already) does not count twice', incident(), window({ includesIncident: true }), false, false],
    ['an undeclared instance counts toward nothing', incident({ standing: 'undeclared' }), window(), false, false],
    ['a service-level incident groups instances that count already', incident({ serviceLevel: true }), window(), false, false],
    ['an incident outside the window does not count', incident({ at: now.getTime() - options.windowMs - 1 }), window(), false, false],
    ['a tenant breaker open already is not opened again', incident(), window({ tenantOpen: true }), false, false],
    ['the global breaker open: nothing more to open', incident(), window({ globalOpen: true }), true, false],
    ['the second suspected fault reaches the global threshold', incident({ suspectedCause: 'detector_or_network' }), window({ failing: 0, suspected: 1 }), false, true],
  ])('%s', (_what, inc, win, tenantTrips, trips) => {
    const judged = judgeWindow(inc, win, now, options);
    expect(judged.tenantTrip !== null).toBe(tenantTrips);
    expect(wouldTrip(judged, win)).toBe(trips);
  });

  it('names the tenant and the count in the reason its breaker records', () => {
    const judged = judgeWindow(incident(), window(), now, options);
    expect(judged.tenantTrip?.reason).toMatch(/^tenant_breaker: acme: 3 of 10 declared instances/);
    expect(judged.countsGlobally).toBe(true);
    expect(judged.mightTripGlobal).toBe(true);
  });

  it('a tenant without inventory storms for itself only: never counted globally', () => {
    const judged = judgeWindow(incident({ standing: 'no_inventory', declaredInstances: 0 }), window({ failing: 4 }), now, options);
    expect(judged.tenantTrip).not.toBeNull();
    expect(judged.countsGlobally).toBe(false);
    expect(judged.mightTripGlobal).toBe(false);
  });
});
