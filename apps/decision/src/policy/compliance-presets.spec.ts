import fc from 'fast-check';
import type { RemediationAction } from '@autoheal/contracts';
import { BASELINE, EEA_REGIONS, effectiveProfile, FRAMEWORKS, looserOverrides, PRESETS, REMEDIATION_ACTIONS, type Framework, type ProfileThresholds } from './compliance-presets.js';

const MIN = 60_000;

describe('effectiveProfile: the strictest value of each threshold wins', () => {
  const cases: { name: string; frameworks: Framework[]; overrides?: Partial<ProfileThresholds>; expected: Partial<ProfileThresholds> }[] = [
    { name: 'no framework: the baseline', frameworks: [], expected: { ...BASELINE, autoActions: [...REMEDIATION_ACTIONS].sort() } },
    { name: 'one framework: its preset', frameworks: ['GDPR'], expected: { ...PRESETS.GDPR, autoActions: ['replace', 'restart', 'rollback', 'scale_out', 'throttle'] } },
    {
      name: 'PCI DSS + SOC 2',
      frameworks: ['PCI_DSS', 'SOC2'],
      expected: {
        availabilityTarget: 0.9995, // PCI higher
        maxTimeToRemediateMs: 10 * MIN, // PCI shorter
        allowedRegions: 'any',
        isolation: 'dedicated', // PCI
        autoActions: ['restart', 'scale_out', 'throttle'], // intersection
        approvalActions: ['failover', 'replace', 'rollback'], // union
        maxAutoActionsPerHour: 4, // PCI lower
        auditRetentionDays: 365,
        cooldownMs: 2 * MIN, // PCI longer
        maxConcurrentShare: 0.25, // PCI lower
        approvalTimeoutMs: 5 * MIN, // PCI shorter
      },
    },
    {
      name: 'HIPAA + GDPR',
      frameworks: ['HIPAA', 'GDPR'],
      expected: {
        allowedRegions: [...EEA_REGIONS].sort(), // any ∩ EEA
        isolation: 'dedicated', // HIPAA
        // GDPR allows rollback automatically, HIPAA wants it approved: approval wins.
        autoActions: ['replace', 'restart', 'scale_out', 'throttle'],
        approvalActions: ['failover', 'rollback'],
        auditRetentionDays: 6 * 365, // HIPAA longer
        maxTimeToRemediateMs: 15 * MIN, // HIPAA shorter
        maxConcurrentShare: 0.34,
      },
    },
    {
      name: 'all four',
      frameworks: ['SOC2', 'GDPR', 'PCI_DSS', 'HIPAA'],
      expected: { availabilityTarget: 0.9995, allowedRegions: [...EEA_REGIONS].sort(), autoActions: ['restart', 'scale_out', 'throttle'], maxAutoActionsPerHour: 4, auditRetentionDays: 2190 },
    },
    {
      name: 'overrides tighten: regions intersect, caps drop, an action leaves the automatic list',
      frameworks: ['GDPR'],
      overrides: { allowedRegions: ['eu-west-1', 'us-east-1'], maxAutoActionsPerHour: 2, autoActions: ['restart'], availabilityTarget: 0.9999 },
      expected: {
        allowedRegions: ['eu-west-1'],
        maxAutoActionsPerHour: 2,
        autoActions: ['restart'],
        // Taken off the automatic list without being listed anywhere: it now needs approval.
        approvalActions: ['failover', 'replace', 'rollback', 'scale_out', 'throttle'],
        availabilityTarget: 0.9999,
      },
    },
    {
      name: 'overrides cannot loosen: looser values are ignored',
      frameworks: ['HIPAA'],
      overrides: { maxAutoActionsPerHour: 100, isolation: 'shared', autoActions: ['restart', 'failover'], cooldownMs: 0, auditRetentionDays: 1, maxConcurrentShare: 1 },
      expected: { maxAutoActionsPerHour: 6, isolation: 'dedicated', autoActions: ['restart'], approvalActions: ['failover', 'replace', 'rollback', 'scale_out', 'throttle'], cooldownMs: 2 * MIN, auditRetentionDays: 2190, maxConcurrentShare: 0.34 },
    },
    {
      name: 'an override with both lists forbids what it names in neither',
      frameworks: ['SOC2'],
      overrides: { autoActions: ['restart'], approvalActions: ['rollback'] },
      // failover: SOC 2 wants it approved, the override names it nowhere, so it is never taken.
      expected: { autoActions: ['restart'], approvalActions: ['rollback'] },
    },
  ];

  it.each(cases)('$name', ({ frameworks, overrides, expected }) => {
    expect(effectiveProfile(frameworks, overrides)).toMatchObject(expected);
  });

  it('does not depend on the order or repetition of frameworks', () => {
    expect(effectiveProfile(['SOC2', 'PCI_DSS', 'SOC2'])).toEqual(effectiveProfile(['PCI_DSS', 'SOC2']));
  });

  /** Independent of stricterOf: is `p` at least as strict as `q` on every threshold? */
  function atLeastAsStrict(p: ProfileThresholds, q: Partial<ProfileThresholds>): boolean {
    const level = (x: Partial<ProfileThresholds>, a: RemediationAction): number => {
      if (x.approvalActions?.includes(a)) return 1;
      if (x.autoActions === undefined) return 0;
      if (x.autoActions.includes(a)) return 0;
      return x.approvalActions === undefined ? 1 : 2;
    };
    const regionsOk =
      q.allowedRegions === undefined || q.allowedRegions === 'any' || (p.allowedRegions !== 'any' && p.allowedRegions.every((r) => (q.allowedRegions as string[]).includes(r)));
    return (
      p.availabilityTarget >= (q.availabilityTarget ?? 0) &&
      p.maxTimeToRemediateMs <= (q.maxTimeToRemediateMs ?? Infinity) &&
      regionsOk &&
      (q.isolation !== 'dedicated' || p.isolation === 'dedicated') &&
      REMEDIATION_ACTIONS.every((a) => level(p, a) >= level(q, a)) &&
      p.maxAutoActionsPerHour <= (q.maxAutoActionsPerHour ?? Infinity) &&
      p.auditRetentionDays >= (q.auditRetentionDays ?? 0) &&
      p.cooldownMs >= (q.cooldownMs ?? 0) &&
      p.maxConcurrentShare <= (q.maxConcurrentShare ?? Infinity) &&
      p.approvalTimeoutMs <= (q.approvalTimeoutMs ?? Infinity)
    );
  }

  it('is at least as strict as every framework and every override (property)', () => {
    const regions = ['eu-west-1', 'eu-central-1', 'us-east-1'];
    const overrides = fc.record(
      {
        availabilityTarget: fc.double({ min: 0.9, max: 0.99999, noNaN: true }),
        maxTimeToRemediateMs: fc.integer({ min: 1, max: 3_600_000 }),
        allowedRegions: fc.oneof(fc.constant('any' as const), fc.subarray(regions)),
        isolation: fc.constantFrom('dedicated' as const, 'shared' as const),
        autoActions: fc.subarray([...REMEDIATION_ACTIONS]),
        approvalActions: fc.subarray([...REMEDIATION_ACTIONS]),
        maxAutoActionsPerHour: fc.integer({ min: 0, max: 50 }),
        auditRetentionDays: fc.integer({ min: 1, max: 4000 }),
        cooldownMs: fc.integer({ min: 0, max: 600_000 }),
        maxConcurrentShare: fc.double({ min: 0.01, max: 1, noNaN: true }),
        approvalTimeoutMs: fc.integer({ min: 1, max: 3_600_000 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.subarray([...FRAMEWORKS]), overrides, (frameworks, o) => {
        const p = effectiveProfile(frameworks, o);
        for (const f of frameworks) expect(atLeastAsStrict(p, PRESETS[f])).toBe(true);
        expect(atLeastAsStrict(p, o)).toBe(true);
        expect(p.autoActions.filter((a) => p.approvalActions.includes(a))).toEqual([]);
      }),
    );
  });
});

describe('looserOverrides', () => {
  it('accepts overrides that tighten or repeat the presets', () => {
    expect(looserOverrides(['GDPR'], { allowedRegions: ['eu-west-1'], maxAutoActionsPerHour: 6, autoActions: ['restart'], approvalActions: ['failover', 'replace'] })).toEqual([]);
    expect(looserOverrides([], { allowedRegions: ['us-east-1'], maxAutoActionsPerHour: 20 })).toEqual([]);
  });

  it('lists every loosening, naming the framework that binds', () => {
    const loose = looserOverrides(['HIPAA', 'GDPR'], {
      availabilityTarget: 0.99,
      maxAutoActionsPerHour: 7,
      isolation: 'shared',
      allowedRegions: ['eu-west-1', 'us-east-1'],
      autoActions: ['restart', 'failover'],
    });
    expect(loose).toEqual([
      { threshold: 'availabilityTarget', message: '0.99 is looser than 0.999 required by GDPR, HIPAA; overrides may only tighten' },
      { threshold: 'maxAutoActionsPerHour', message: '7 is looser than 6 required by GDPR, HIPAA; overrides may only tighten' },
      { threshold: 'isolation', message: 'shared is looser than dedicated required by HIPAA; overrides may only tighten' },
      { threshold: 'allowedRegions', message: expect.stringMatching(/^us-east-1 outside eu-central-1, .* allowed by GDPR; overrides may only tighten$/) as string },
      { threshold: 'autoActions', message: 'failover may not run automatically under GDPR, HIPAA; overrides may only tighten' },
    ]);
  });

  it('refuses making approvable what a full profile forbids', () => {
    expect(looserOverrides([], { autoActions: ['restart'], approvalActions: [] })).toEqual([]);
    // The baseline allows everything; only a framework list can forbid, and the presets forbid nothing.
    for (const f of FRAMEWORKS) {
      const p = effectiveProfile([f]);
      expect(REMEDIATION_ACTIONS.every((a) => p.autoActions.includes(a) || p.approvalActions.includes(a))).toBe(true);
    }
  });
});
