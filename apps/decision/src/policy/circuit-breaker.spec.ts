import fc from 'fast-check';
import {
  DEFAULT_BREAKER_OPTIONS,
  declaredInstanceCount,
  globalBreakerVerdict,
  inBreakerWindow,
  inventoryStanding,
  mightTripGlobal,
  stormingTenants,
  tenantBreakerVerdict,
  tenantStormThreshold,
  tenantStorms,
  tenantsNeeded,
  uncountedReason,
  withIncident,
  type DeclaredInventory,
} from './circuit-breaker.js';

const NOW = 1_000_000_000;
const INVENTORY: DeclaredInventory = {
  services: [
    { service: 'api', instances: [{ instance: 'api-1' }, { instance: 'api-2' }] },
    { service: 'db', instances: [{ instance: 'db-1' }] },
  ],
};

describe('inventoryStanding', () => {
  const cases: { name: string; inventory: DeclaredInventory | null; service: string; instance: string; standing: string }[] = [
    { name: 'a declared instance', inventory: INVENTORY, service: 'api', instance: 'api-2', standing: 'declared' },
    { name: 'an instance the service does not declare', inventory: INVENTORY, service: 'api', instance: 'ghost-1', standing: 'undeclared' },
    { name: 'a declared name under another service', inventory: INVENTORY, service: 'db', instance: 'api-1', standing: 'undeclared' },
    { name: 'a service the inventory does not declare', inventory: INVENTORY, service: 'shadow', instance: 'api-1', standing: 'undeclared' },
    { name: 'a service-level incident of a declared service', inventory: INVENTORY, service: 'api', instance: '*', standing: 'declared' },
    { name: 'a service-level incident of an undeclared service', inventory: INVENTORY, service: 'shadow', instance: '*', standing: 'undeclared' },
    { name: 'a tenant whose inventory is empty', inventory: { services: [] }, service: 'api', instance: 'api-1', standing: 'no_inventory' },
    { name: 'a tenant without a document', inventory: null, service: 'api', instance: 'api-1', standing: 'undeclared' },
  ];
  it.each(cases)('$name → $standing', ({ inventory, service, instance, standing }) => {
    expect(inventoryStanding(inventory, service, instance)).toBe(standing);
  });

  it('counts declared instances across services', () => {
    expect(declaredInstanceCount(INVENTORY)).toBe(3);
    expect(declaredInstanceCount(null)).toBe(0);
  });

  it('gives a reason only for an undeclared incident', () => {
    expect(uncountedReason('undeclared', 'api', 'ghost-1')).toMatch(/^not counted toward any circuit breaker: api\/ghost-1 is not in the tenant's inventory$/);
    expect(uncountedReason('declared', 'api', 'api-1')).toBeNull();
    expect(uncountedReason('no_inventory', 'api', 'api-1')).toBeNull();
  });
});

describe('tenant breaker', () => {
  const cases: { name: string; declared: number; failing: number; trip: boolean; reason: RegExp }[] = [
    { name: '3 of 10 declared (30 %)', declared: 10, failing: 3, trip: true, reason: /^tenant_breaker: t: 3 of 10 declared instances \(30%; threshold 30%, at least 3\) failed within 60s; stopping t's automatic actions/ },
    { name: '3 of 11 declared (27 %)', declared: 11, failing: 3, trip: false, reason: /3 of 11 declared instances .* below the tenant breaker's threshold/ },
    { name: '2 of 2 declared: below the minimum count', declared: 2, failing: 2, trip: false, reason: /2 of 2/ },
    { name: '3 of 3 declared', declared: 3, failing: 3, trip: true, reason: /^tenant_breaker: t: 3 of 3/ },
    { name: '29 of 100 declared', declared: 100, failing: 29, trip: false, reason: /29 of 100/ },
    { name: '30 of 100 declared', declared: 100, failing: 30, trip: true, reason: /30 of 100/ },
    { name: 'no inventory, 4 instances: below the floor', declared: 0, failing: 4, trip: false, reason: /declares no inventory \(threshold 5\)/ },
    { name: 'no inventory, 5 instances: the floor', declared: 0, failing: 5, trip: true, reason: /^tenant_breaker: t: 5 instances of a tenant that declares no inventory/ },
    { name: 'nothing failing', declared: 4, failing: 0, trip: false, reason: /below/ },
  ];
  it.each(cases)('$name → trip $trip', ({ declared, failing, trip, reason }) => {
    const verdict = tenantBreakerVerdict('t', { declaredInstances: declared, failing });
    expect(verdict.trip).toBe(trip);
    expect(verdict.reason).toMatch(reason);
    expect(tenantStorms({ declaredInstances: declared, failing })).toBe(trip);
  });

  it('takes its thresholds as options', () => {
    expect(tenantStorms({ declaredInstances: 4, failing: 2 })).toBe(false);
    expect(tenantStorms({ declaredInstances: 4, failing: 2 }, { ...DEFAULT_BREAKER_OPTIONS, tenantMinInstances: 2, tenantShare: 0.5 })).toBe(true);
    expect(tenantStormThreshold(0, { ...DEFAULT_BREAKER_OPTIONS, noInventoryMinInstances: 9 })).toBe(9);
  });

  it('never counts a share above what the inventory declares (the threshold grows with the inventory)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.double({ min: 0.01, max: 1, noNaN: true }), (declared, share) => {
        const o = { ...DEFAULT_BREAKER_OPTIONS, tenantShare: share };
        const needed = tenantStormThreshold(declared, o);
        expect(needed).toBeGreaterThanOrEqual(o.tenantMinInstances);
        expect(needed / declared).toBeGreaterThanOrEqual(share - 1e-9);
      }),
    );
  });
});

describe('withIncident', () => {
  const base = { declaredInstances: 10, failing: 2 };
  const cases: { name: string; incident: Parameters<typeof withIncident>[1]; failing: number }[] = [
    { name: 'a declared instance not yet counted', incident: { at: NOW - 1000, standing: 'declared', serviceLevel: false, alreadyCounted: false }, failing: 3 },
    { name: 'an instance counted already', incident: { at: NOW - 1000, standing: 'declared', serviceLevel: false, alreadyCounted: true }, failing: 2 },
    { name: 'an undeclared instance', incident: { at: NOW - 1000, standing: 'undeclared', serviceLevel: false, alreadyCounted: false }, failing: 2 },
    { name: 'a tenant without inventory', incident: { at: NOW - 1000, standing: 'no_inventory', serviceLevel: false, alreadyCounted: false }, failing: 3 },
    { name: 'a service-level incident (groups instances counted already)', incident: { at: NOW - 1000, standing: 'declared', serviceLevel: true, alreadyCounted: false }, failing: 2 },
    { name: 'outside the window', incident: { at: NOW - 60_000, standing: 'declared', serviceLevel: false, alreadyCounted: false }, failing: 2 },
    { name: 'in the future', incident: { at: NOW + 1, standing: 'declared', serviceLevel: false, alreadyCounted: false }, failing: 2 },
  ];
  it.each(cases)('$name → $failing failing', ({ incident, failing }) => {
    expect(withIncident(base, incident, NOW)).toEqual({ declaredInstances: 10, failing });
  });

  it('bounds the window on both sides', () => {
    expect(inBreakerWindow(NOW - 59_999, NOW)).toBe(true);
    expect(inBreakerWindow(NOW - 60_000, NOW)).toBe(false);
    expect(inBreakerWindow(NOW + 1, NOW)).toBe(false);
  });
});

describe('global breaker', () => {
  const storm = (tenantId: string, declared = 10, failing = 5) => ({ tenantId, declaredInstances: declared, failing });

  it('counts only tenants with a declared inventory whose own window storms', () => {
    expect(stormingTenants([storm('a'), storm('b', 10, 2), storm('c', 0, 50), storm('d', 3, 3)])).toEqual(['a', 'd']);
  });

  const needed: [number, number][] = [
    [1, 2],
    [2, 2],
    [3, 2],
    [4, 2],
    [5, 3],
    [100, 3],
  ];
  it.each(needed)('with %i tenants declaring an inventory, %i must storm at once', (tenants, n) => {
    expect(tenantsNeeded(tenants)).toBe(n);
  });

  it('never needs fewer than two tenants, whatever the options say', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 10 }), fc.double({ min: 0, max: 1, noNaN: true }), (tenants, minTenants, share) => {
        expect(tenantsNeeded(tenants, { ...DEFAULT_BREAKER_OPTIONS, minTenants, tenantsShare: share })).toBeGreaterThanOrEqual(2);
      }),
    );
  });

  const cases: { name: string; window: Parameters<typeof globalBreakerVerdict>[0]; trip: boolean; reason: RegExp }[] = [
    { name: 'one tenant storming among 6', window: { suspected: 0, suspectedCauses: [], storming: ['a'], declaredTenants: 6 }, trip: false, reason: /1 of 6 tenants storming/ },
    { name: 'one tenant storming alone in the deployment', window: { suspected: 0, suspectedCauses: [], storming: ['a'], declaredTenants: 1 }, trip: false, reason: /below/ },
    { name: 'two of 6 storming', window: { suspected: 0, suspectedCauses: [], storming: ['a', 'b'], declaredTenants: 6 }, trip: false, reason: /below/ },
    {
      name: 'three of 6 storming',
      window: { suspected: 0, suspectedCauses: [], storming: ['c', 'a', 'b'], declaredTenants: 6 },
      trip: true,
      reason: /^circuit_breaker: 3 of 6 tenants storming within 60s \(a, b, c; threshold 3\)/,
    },
    { name: 'two of 3 storming (half of a small deployment)', window: { suspected: 0, suspectedCauses: [], storming: ['a', 'b'], declaredTenants: 3 }, trip: true, reason: /2 of 3 tenants/ },
    {
      name: 'two suspected-fault incidents',
      window: { suspected: 2, suspectedCauses: ['detector_or_network', 'detector_or_network'], storming: [], declaredTenants: 6 },
      trip: true,
      reason: /^circuit_breaker: 2 incidents marked as a suspected detector_or_network fault within 60s \(threshold 2\)/,
    },
    { name: 'one suspected-fault incident', window: { suspected: 1, suspectedCauses: ['detector_or_network'], storming: [], declaredTenants: 6 }, trip: false, reason: /1 suspected-fault/ },
  ];
  it.each(cases)('$name → trip $trip', ({ window, trip, reason }) => {
    const verdict = globalBreakerVerdict(window);
    expect(verdict.trip).toBe(trip);
    expect(verdict.reason).toMatch(reason);
  });

  it('never trips when mightTripGlobal says it cannot (the shortcut is safe)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 4 }), fc.integer({ min: 0, max: 10 }), (suspected, storming, tenants) => {
        const distinct = [...new Set(storming)];
        const verdict = globalBreakerVerdict({ suspected, suspectedCauses: Array<string>(suspected).fill('detector_or_network'), storming: distinct, declaredTenants: Math.max(tenants, distinct.length) });
        if (verdict.trip) expect(mightTripGlobal(suspected, distinct.length > 0)).toBe(true);
      }),
    );
  });
});
