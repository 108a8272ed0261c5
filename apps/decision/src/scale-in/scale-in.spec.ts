import { tenantDocumentSchema, type TenantDocument } from '../planning/policy-port.js';
import { decideScaleIn, quietSince, type PendingScaleIn, type ScaleInState, type ServiceIncident } from './scale-in.js';

const MIN = 60_000;
const T0 = Date.parse('2026-06-01T12:00:00Z');
const at = (ms: number) => new Date(T0 + ms);
const OPTIONS = { recheckMs: 15_000 };

const pending: PendingScaleIn = {
  scaleOutId: '01936b2e-0000-7000-8000-0000000000a1',
  remediationId: '01936b2e-0000-7000-8000-0000000000b1',
  incidentId: '01936b2e-0000-7000-8000-0000000000c1',
  tenantId: 'acme',
  service: 'api',
  instance: 'api-1',
  verifiedAt: at(0),
  afterMs: 10 * MIN,
};

function document(runtime: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}): TenantDocument {
  const instances = ['api-1', 'api-2', 'api-3'].map((instance) => ({ instance, region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' }));
  return tenantDocumentSchema.parse({
    apiVersion: 'autoheal/v1',
    tenantId: 'acme',
    frameworks: ['SOC2'],
    inventory: { services: [{ service: 'api', instances, ...(runtime ? { runtime } : {}) }] },
    ...extra,
  });
}

const KUBERNETES = { kind: 'kubernetes', namespace: 'prod', workload: 'Deployment', name: 'api' };

function state(over: Partial<ScaleInState> = {}, doc: TenantDocument = document(KUBERNETES)): ScaleInState {
  return { tenant: { document: doc, policyVersion: 'sha256:abc' }, breaker: { open: false, reason: null }, incidents: [], ...over };
}

const incident = (openedMs: number, resolvedMs: number | null, id = '01936b2e-0000-7000-8000-0000000000d1'): ServiceIncident => ({
  incidentId: id,
  openedAt: at(openedMs),
  resolvedAt: resolvedMs === null ? null : at(resolvedMs),
});

describe('quietSince', () => {
  it.each([
    ['no other incident: quiet since the scale_out was verified', [], 0],
    ['another incident resolved later: quiet since it resolved', [incident(2 * MIN, 5 * MIN)], 5 * MIN],
    ['several: since the last resolution', [incident(1 * MIN, 7 * MIN), incident(2 * MIN, 3 * MIN)], 7 * MIN],
  ] as const)('%s', (_what, incidents, sinceMs) => {
    expect(quietSince(pending, incidents)).toEqual(at(sinceMs));
  });

  it('is null while another incident on the service is open', () => {
    expect(quietSince(pending, [incident(1 * MIN, 2 * MIN), incident(3 * MIN, null)])).toBeNull();
  });
});

describe('decideScaleIn (the clock is the caller’s: every case gives `now`)', () => {
  it('waits until the service has stayed quiet for scaleInAfterMs after the scale_out was verified', () => {
    const decision = decideScaleIn(pending, state(), at(10 * MIN - 1), OPTIONS);
    expect(decision).toEqual({ kind: 'wait', until: at(10 * MIN), reason: expect.stringMatching(/quiet since 2026-06-01T12:00:00.000Z: scaling in at 2026-06-01T12:10:00.000Z/) as string });
  });

  it('plans the scale-in at exactly scaleInAfterMs: back to the declared instances, on the service’s runtime', () => {
    const decision = decideScaleIn(pending, state(), at(10 * MIN), OPTIONS);
    expect(decision).toMatchObject({
      kind: 'plan',
      policyVersion: 'sha256:abc',
      quietSince: at(0),
      execution: { runtime: KUBERNETES, parameters: { minInstances: 3 } },
      reason: expect.stringMatching(/has stayed quiet for 600000 ms: scaling back in to the 3 declared instances$/) as string,
    });
  });

  it('a new incident on the service meanwhile: no scale-in while it is open, and the quiet starts over once it resolves', () => {
    const open = decideScaleIn(pending, state({ incidents: [incident(4 * MIN, null)] }), at(11 * MIN), OPTIONS);
    // It must resolve and then the service stay quiet for the whole interval: never sooner than that.
    expect(open).toMatchObject({ kind: 'wait', until: at(21 * MIN), reason: expect.stringMatching(/is open: the service must stay quiet/) as string });
    const resolved = [incident(4 * MIN, 12 * MIN)];
    expect(decideScaleIn(pending, state({ incidents: resolved }), at(21 * MIN), OPTIONS)).toMatchObject({ kind: 'wait', until: at(22 * MIN) });
    expect(decideScaleIn(pending, state({ incidents: resolved }), at(22 * MIN), OPTIONS)).toMatchObject({ kind: 'plan', quietSince: at(12 * MIN) });
  });

  it('with scaleInAfterMs 0, an open incident is looked at again after the recheck interval, not at once', () => {
    const decision = decideScaleIn({ ...pending, afterMs: 0 }, state({ incidents: [incident(1_000, null)] }), at(5_000), OPTIONS);
    expect(decision).toMatchObject({ kind: 'wait', until: at(20_000) });
  });

  it('holds while a circuit breaker stops the tenant’s automatic actions', () => {
    const decision = decideScaleIn(pending, state({ breaker: { open: true, reason: 'tenant_breaker: acme: storm' } }), at(30 * MIN), OPTIONS);
    expect(decision).toEqual({ kind: 'wait', until: at(30 * MIN + 15_000), reason: 'held: the circuit breaker is open: tenant_breaker: acme: storm' });
  });

  it('waits out a change freeze (a scale-in is never an emergency)', () => {
    const doc = document(KUBERNETES, { changeFreezes: [{ reason: 'release', start: at(5 * MIN).toISOString(), end: at(40 * MIN).toISOString() }] });
    expect(decideScaleIn(pending, state({}, doc), at(30 * MIN), OPTIONS)).toMatchObject({ kind: 'wait', until: at(40 * MIN) });
    expect(decideScaleIn(pending, state({}, doc), at(40 * MIN), OPTIONS)).toMatchObject({ kind: 'plan' });
  });

  it.each([
    ['the host agent (the default runtime)', undefined],
    ['the host agent, declared', { kind: 'agent' }],
  ])('plans for a service on %s', (_what, runtime) => {
    expect(decideScaleIn(pending, state({}, document(runtime)), at(10 * MIN), OPTIONS)).toMatchObject({ kind: 'plan', execution: { runtime: { kind: 'agent' }, parameters: { minInstances: 3 } } });
  });

  it('plans for a runbook and for a StatefulSet', () => {
    const runbook = { kind: 'runbook', url: 'https://runbooks.example/heal', secretRef: 'ACME_RUNBOOK' };
    expect(decideScaleIn(pending, state({}, document(runbook)), at(10 * MIN), OPTIONS)).toMatchObject({ kind: 'plan', execution: { runtime: runbook, parameters: { minInstances: 3 } } });
    const statefulSet = { ...KUBERNETES, workload: 'StatefulSet' };
    expect(decideScaleIn(pending, state({}, document(statefulSet)), at(10 * MIN), OPTIONS)).toMatchObject({ kind: 'plan' });
  });

  it('skips when the tenant has no document any more', () => {
    expect(decideScaleIn(pending, state({ tenant: null }), at(10 * MIN), OPTIONS)).toMatchObject({ kind: 'skip', policyVersion: null, reason: expect.stringMatching(/has no document/) as string });
  });
});
