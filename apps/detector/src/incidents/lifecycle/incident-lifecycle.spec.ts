import fc from 'fast-check';
import type { IncidentKind, IncidentSeverity } from '@autoheal/contracts';
import { IncidentLifecycle, serviceFingerprintOf } from './incident-lifecycle.js';
import { DEFAULT_LIFECYCLE_CONFIG, fingerprintOf, type IncidentCommand, type LifecycleConfig, type LifecycleSignal } from './lifecycle.types.js';

const config: LifecycleConfig = {
  flapping: { windowMs: 60_000, maxOpens: 3, holdMs: 10_000 },
  service: { share: 0.5, minInstances: 3 },
  evidenceUpdateIntervalMs: 1_000,
};

function signal(over: Partial<LifecycleSignal> & { firing: boolean }): LifecycleSignal {
  return {
    tenantId: 'acme',
    service: 'api',
    instance: 'api-1',
    kind: 'error_rate' satisfies IncidentKind,
    ruleKey: 'error_rate.fast',
    severity: 'major' satisfies IncidentSeverity,
    signalAt: 0,
    evidence: { errorRate: 0.5 },
    ...over,
  };
}

type Step = { at: number; signal?: Partial<LifecycleSignal> & { firing: boolean }; tick?: true; stop?: string; known?: string[] };

function run(steps: Step[], cfg: LifecycleConfig = config): IncidentCommand[] {
  const lifecycle = new IncidentLifecycle(cfg);
  const out: IncidentCommand[] = [];
  for (const step of steps) {
    for (const i of step.known ?? []) lifecycle.noteInstance('acme', 'api', i);
    if (step.signal) out.push(...lifecycle.apply(signal({ signalAt: step.at, ...step.signal }), step.at));
    if (step.stop) out.push(...lifecycle.forgetInstance('acme', 'api', step.stop, step.at, 'planned stop'));
    if (step.tick) out.push(...lifecycle.tick(step.at));
  }
  return out;
}

const shape = (cs: IncidentCommand[]) => cs.map((c) => `${c.type}:${c.target.instance}:${c.target.kind}`);

describe('IncidentLifecycle', () => {
  it.each<[string, Step[], string[]]>([
    ['a firing level opens one incident', [{ at: 0, signal: { firing: true } }], ['open:api-1:error_rate']],
    ['repeated firing levels do not open twice', [{ at: 0, signal: { firing: true } }, { at: 100, signal: { firing: true } }, { at: 200, signal: { firing: true } }], ['open:api-1:error_rate']],
    ['a resolved level with nothing open does nothing', [{ at: 0, signal: { firing: false } }], []],
    ['open then resolve', [{ at: 0, signal: { firing: true } }, { at: 100, signal: { firing: false } }], ['open:api-1:error_rate', 'resolve:api-1:error_rate']],
    ['a severity change is published at once', [{ at: 0, signal: { firing: true } }, { at: 10, signal: { firing: true, severity: 'critical' } }], ['open:api-1:error_rate', 'update:api-1:error_rate']],
    [
      'evidence alone is published at most every interval',
      [{ at: 0, signal: { firing: true } }, { at: 500, signal: { firing: true } }, { at: 1_000, signal: { firing: true } }, { at: 1_500, signal: { firing: true } }],
      ['open:api-1:error_rate', 'update:api-1:error_rate'],
    ],
    ['a suppressed (maintenance) firing level opens nothing', [{ at: 0, signal: { firing: true, suppressed: true } }, { at: 10, signal: { firing: false } }], []],
    [
      'different rule keys of one kind are different incidents',
      [{ at: 0, signal: { firing: true } }, { at: 0, signal: { firing: true, ruleKey: 'error_rate.slow' } }],
      ['open:api-1:error_rate', 'open:api-1:error_rate'],
    ],
    ['a planned stop resolves what is open', [{ at: 0, signal: { firing: true } }, { at: 10, stop: 'api-1' }], ['open:api-1:error_rate', 'resolve:api-1:error_rate']],
  ])('%s', (_name, steps, expected) => {
    expect(shape(run(steps))).toEqual(expected);
  });

  it('carries severity, evidence and signal time on open and update', () => {
    const out = run([{ at: 5, signal: { firing: true, evidence: { a: 1 } } }, { at: 2_000, signal: { firing: true, severity: 'critical', evidence: { a: 2 } } }]);
    expect(out[0]).toMatchObject({ type: 'open', severity: 'major', signalAt: 5, evidence: { a: 1 }, flags: { scope: 'instance', flapping: false } });
    expect(out[1]).toMatchObject({ type: 'update', severity: 'critical', evidence: { a: 2 } });
    expect(out[0].fingerprint).toBe(fingerprintOf({ tenantId: 'acme', service: 'api', instance: 'api-1', kind: 'error_rate', ruleKey: 'error_rate.fast' }));
  });

  describe('flapping', () => {
    const flap = (n: number, every: number): Step[] =>
      Array.from({ length: n }, (_, i) => [
        { at: i * every, signal: { firing: true } },
        { at: i * every + every / 2, signal: { firing: false } },
      ]).flat();

    it('resolves normally below the limit', () => {
      expect(shape(run(flap(2, 1_000)))).toEqual(['open:api-1:error_rate', 'resolve:api-1:error_rate', 'open:api-1:error_rate', 'resolve:api-1:error_rate']);
    });

    it('keeps one incident marked flapping instead of opening new ones, resolving after the hold', () => {
      const out = run([...flap(10, 1_000), { at: 9_600, tick: true }, { at: 9_500 + 10_000, tick: true }]);
      expect(out.filter((c) => c.type === 'open')).toHaveLength(3);
      const flagged = out.find((c) => c.type === 'update');
      expect(flagged).toMatchObject({ flags: { flapping: true } });
      // Still open through the flapping, resolved once stable for the hold.
      expect(out.filter((c) => c.type === 'resolve')).toHaveLength(3);
      expect(out[out.length - 1]).toMatchObject({ type: 'resolve', at: 19_500 });
    });

    it('does not resolve a held incident before the hold passes', () => {
      const out = run([...flap(3, 1_000), { at: 2_500 + 9_999, tick: true }]);
      expect(out.filter((c) => c.type === 'resolve')).toHaveLength(2);
    });

    it('opens the next one already marked flapping when the hold ended inside the window', () => {
      const out = run([...flap(3, 1_000), { at: 20_000, tick: true }, { at: 21_000, signal: { firing: true } }]);
      expect(out[out.length - 1]).toMatchObject({ type: 'open', flags: { flapping: true } });
    });

    it('forgets the history after the window', () => {
      const out = run([...flap(2, 1_000), { at: 70_000, tick: true }, { at: 70_000, signal: { firing: true } }, { at: 70_001, signal: { firing: false } }]);
      expect(out.filter((c) => c.type === 'resolve')).toHaveLength(3);
    });
  });

  describe('service-level grouping', () => {
    const known = ['api-1', 'api-2', 'api-3', 'api-4', 'api-5', 'api-6'];
    it('opens one service incident when half the instances (at least 3) fail, and keeps the instance incidents', () => {
      const out = run([
        { at: 0, known, signal: { firing: true, instance: 'api-1' } },
        { at: 1, signal: { firing: true, instance: 'api-2' } },
        { at: 2, signal: { firing: true, instance: 'api-3', kind: 'latency', ruleKey: 'latency.p99' } },
      ]);
      expect(shape(out)).toEqual(['open:api-1:error_rate', 'open:api-2:error_rate', 'open:api-3:latency', 'open:*:error_rate']);
      expect(out[3]).toMatchObject({ fingerprint: serviceFingerprintOf('acme', 'api'), flags: { scope: 'service', members: ['api-1', 'api-2', 'api-3'] } });
    });

    it('updates members and resolves when the share drops', () => {
      const out = run([
        { at: 0, known, signal: { firing: true, instance: 'api-1' } },
        { at: 1, signal: { firing: true, instance: 'api-2' } },
        { at: 2, signal: { firing: true, instance: 'api-3' } },
        { at: 3, signal: { firing: true, instance: 'api-4' } },
        { at: 4, signal: { firing: false, instance: 'api-4' } },
        { at: 5, signal: { firing: false, instance: 'api-1' } },
      ]);
      expect(shape(out).slice(3)).toEqual(['open:*:error_rate', 'open:api-4:error_rate', 'update:*:error_rate', 'resolve:api-4:error_rate', 'update:*:error_rate', 'resolve:api-1:error_rate', 'resolve:*:error_rate']);
    });

    it('does not group two failing instances of a small service', () => {
      const out = run([
        { at: 0, known: ['api-1', 'api-2'], signal: { firing: true, instance: 'api-1' } },
        { at: 1, signal: { firing: true, instance: 'api-2' } },
      ]);
      expect(out.filter((c) => c.target.instance === '*')).toHaveLength(0);
    });

    it('does not group a minority', () => {
      const out = run([
        { at: 0, known: [...known, 'api-7', 'api-8'], signal: { firing: true, instance: 'api-1' } },
        { at: 1, signal: { firing: true, instance: 'api-2' } },
        { at: 2, signal: { firing: true, instance: 'api-3' } },
      ]);
      expect(out.filter((c) => c.target.instance === '*')).toHaveLength(0);
    });
  });

  describe('what the detector says about itself (observer faults), and nothing about the fleet', () => {
    function fleet(n: number): IncidentLifecycle {
      const lifecycle = new IncidentLifecycle(config);
      for (let i = 0; i < n; i++) lifecycle.noteInstance('acme', `svc-${i % 20}`, `i-${i}`);
      return lifecycle;
    }

    it('never marks a burst across the fleet: whether the fleet looks broken is the decision service\'s judgement', () => {
      // 30 of 30 known instances hanging within a second: the old fleet-wide rule marked these.
      const lifecycle = fleet(30);
      const out: IncidentCommand[] = [];
      for (let i = 0; i < 30; i++) {
        out.push(...lifecycle.apply(signal({ firing: true, service: `svc-${i % 20}`, instance: `i-${i}`, kind: 'heartbeat_missed', ruleKey: 'heartbeat_missed', signalAt: i * 10 }), i * 10));
      }
      expect(out.filter((c) => c.type === 'open' && c.target.instance !== '*')).toHaveLength(30);
      expect(out.some((c) => c.type !== 'resolve' && c.flags.suspectedCause !== undefined)).toBe(false);
    });

    it('marks an incident whose signal carries an observer fault, with the fault in its evidence', () => {
      const lifecycle = fleet(3);
      const [open] = lifecycle.apply(
        signal({ firing: true, instance: 'i-1', service: 'svc-1', kind: 'heartbeat_missed', ruleKey: 'heartbeat_missed', observerFault: { signal: 'timer_late', lateMs: 4200 } }),
        0,
      );
      expect(open).toMatchObject({ type: 'open', flags: { suspectedCause: 'detector_or_network' }, evidence: { errorRate: 0.5, observerFault: { signal: 'timer_late', lateMs: 4200 } } });
    });

    it('marks only the incident whose own signal carried the fault', () => {
      const lifecycle = fleet(3);
      const first = lifecycle.apply(signal({ firing: true, instance: 'i-1', service: 'svc-1', observerFault: { signal: 'handover' } }), 0);
      const later = lifecycle.apply(signal({ firing: true, instance: 'i-2', service: 'svc-1' }), 10);
      const suspicion = (commands: IncidentCommand[]) => commands.flatMap((c) => (c.type === 'open' ? [c.flags.suspectedCause ?? 'none'] : []));
      expect(suspicion(first)).toEqual(['detector_or_network']);
      expect(suspicion(later)).toEqual(['none']);
    });
  });

  it('restores open incidents: a repeated firing level opens nothing, a resolved one resolves', () => {
    const lifecycle = new IncidentLifecycle(config);
    const target = { tenantId: 'acme', service: 'api', instance: 'api-1', kind: 'error_rate' as const, ruleKey: 'error_rate.fast' };
    lifecycle.restore([{ ...target, fingerprint: fingerprintOf(target), severity: 'major', signalAt: 0, flapping: false }]);
    expect(lifecycle.apply(signal({ firing: true }), 10).filter((c) => c.type === 'open')).toHaveLength(0);
    expect(shape(lifecycle.apply(signal({ firing: false }), 20))).toEqual(['resolve:api-1:error_rate']);
  });

  describe('forgetting the services of a partition handed over', () => {
    it('drops their open incidents, service groups and counts without a command, and keeps the rest', () => {
      const lifecycle = new IncidentLifecycle(config);
      for (const i of ['api-1', 'api-2', 'api-3', 'api-4']) lifecycle.noteInstance('acme', 'api', i);
      lifecycle.noteInstance('acme', 'web', 'web-1');
      for (const i of ['api-1', 'api-2', 'api-3']) lifecycle.apply(signal({ firing: true, instance: i }), 1);
      lifecycle.apply(signal({ firing: true, service: 'web', instance: 'web-1' }), 1);
      expect(lifecycle.openCount).toBe(5); // three instances, their service group, web-1

      lifecycle.forgetServices((tenantId, service) => tenantId === 'acme' && service === 'api');

      expect(lifecycle.openCount).toBe(1);
      expect(lifecycle.hasOpenFor('acme', 'api', 'api-1')).toBe(false);
      expect(lifecycle.isOpen(serviceFingerprintOf('acme', 'api'))).toBe(false);
      expect(lifecycle.hasOpenFor('acme', 'web', 'web-1')).toBe(true);
      // The service kept is untouched: it still resolves as before.
      expect(shape(lifecycle.apply(signal({ firing: false, service: 'web', instance: 'web-1' }), 2))).toEqual(['resolve:web-1:error_rate']);
    });

    it('takes the services back from the database as a fresh start', () => {
      const lifecycle = new IncidentLifecycle(config);
      lifecycle.apply(signal({ firing: true }), 1);
      lifecycle.forgetServices(() => true);
      const target = { tenantId: 'acme', service: 'api', instance: 'api-1', kind: 'error_rate' as const, ruleKey: 'error_rate.fast' };
      lifecycle.restore([{ ...target, fingerprint: fingerprintOf(target), severity: 'major', signalAt: 1, flapping: false }]);
      expect(lifecycle.apply(signal({ firing: true }), 10).filter((c) => c.type === 'open')).toHaveLength(0);
      expect(shape(lifecycle.apply(signal({ firing: false }), 20))).toEqual(['resolve:api-1:error_rate']);
    });
  });

  it('property: per fingerprint, never two open, every resolve after an open, updates only while open', () => {
    const instances = ['a', 'b', 'c', 'd'];
    const kinds: IncidentKind[] = ['error_rate', 'crashed'];
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('signal' as const),
        instance: fc.constantFrom(...instances),
        k: fc.constantFrom(...kinds),
        firing: fc.boolean(),
        severity: fc.constantFrom<IncidentSeverity>('minor', 'major', 'critical'),
        suppressed: fc.boolean(),
        dt: fc.integer({ min: 0, max: 20_000 }),
      }),
      fc.record({ kind: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 20_000 }) }),
      fc.record({ kind: fc.constant('stop' as const), instance: fc.constantFrom(...instances), dt: fc.integer({ min: 0, max: 5_000 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), fc.boolean(), (steps, smallGroups) => {
        const cfg = smallGroups ? { ...config, service: { share: 0.3, minInstances: 2 } } : config;
        const lifecycle = new IncidentLifecycle(cfg);
        const open = new Set<string>();
        let now = 0;
        const check = (commands: IncidentCommand[]) => {
          for (const c of commands) {
            switch (c.type) {
              case 'open':
                expect(open.has(c.fingerprint)).toBe(false);
                open.add(c.fingerprint);
                break;
              case 'update':
                expect(open.has(c.fingerprint)).toBe(true);
                break;
              case 'resolve':
                expect(open.has(c.fingerprint)).toBe(true);
                open.delete(c.fingerprint);
                break;
            }
          }
        };
        for (const s of steps) {
          now += s.dt;
          if (s.kind === 'signal') {
            check(lifecycle.apply(signal({ instance: s.instance, kind: s.k, ruleKey: s.k, firing: s.firing, severity: s.severity, suppressed: s.suppressed, signalAt: now }), now));
          } else if (s.kind === 'stop') {
            check(lifecycle.forgetInstance('acme', 'api', s.instance, now, 'stopped'));
          } else {
            check(lifecycle.tick(now));
          }
          expect(lifecycle.openCount).toBe(open.size);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('has defaults matching the documented thresholds', () => {
    expect(DEFAULT_LIFECYCLE_CONFIG.service).toEqual({ share: 0.5, minInstances: 3 });
    expect(DEFAULT_LIFECYCLE_CONFIG).not.toHaveProperty('fleet');
  });
});
