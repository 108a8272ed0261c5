import { evaluateMetrics } from './evaluate-metrics.js';
import type { RuleConfigOverride } from './rule.types.js';
import { configWith, feed, levels, sample, SECOND, T0, type Case, type Fields, type Phase } from './test-support/rule-samples.js';

const p99 = (ms: number): Fields => ({ requests: 100, latencyMs: { p50: ms / 4, p99: ms } });
const LATENCY = 'anomaly.latency';

/** 20 learned samples instead of 60 keep the tables short; the warm-up itself is tested with the default. */
const WARM_20: RuleConfigOverride = { anomaly: { warmupSamples: 20 } };
/** A flat 100 ms baseline: spread = max(deviation 0, minSpread 5 ms, 10 % of 100 ms) = 10 ms, so z = (value − 100) / 10. */
const baseline: Phase = { n: 20, values: p99(100) };

// Defaults: opens after 3 samples in a row with z > 5, resolves after 5 in a row with z ≤ 2;
// major at z ≥ 10, critical at z ≥ 20; 60 samples of warm-up; a 30 min anomaly becomes the new baseline.
const cases: Case[] = [
  { name: 'opens after 3 samples in a row beyond 5 spreads (minor)', tweak: WARM_20, phases: [baseline, { n: 3, values: p99(170) }], expected: ['none', 'minor'] },
  { name: 'exactly 5 spreads above the baseline is not beyond it', tweak: WARM_20, phases: [baseline, { n: 10, values: p99(150) }], expected: ['none', 'none'] },
  { name: 'just beyond 5 spreads opens', tweak: WARM_20, phases: [baseline, { n: 3, values: p99(151) }], expected: ['none', 'minor'] },
  { name: 'two in a row is not enough', tweak: WARM_20, phases: [baseline, { n: 2, values: p99(170) }], expected: ['none', 'none'] },
  {
    name: 'a normal sample between breaches restarts the count',
    tweak: WARM_20,
    phases: [baseline, { n: 12, values: (i) => p99(i % 3 === 2 ? 100 : 170) }],
    expected: ['none', 'none'],
  },
  { name: 'during the default warm-up (60 samples) nothing opens', phases: [{ n: 30, values: p99(100) }, { n: 5, values: p99(300) }], expected: ['none', 'none'] },
  { name: 'after the default warm-up the same jump opens', phases: [{ n: 60, values: p99(100) }, { n: 3, values: p99(170) }], expected: ['none', 'minor'] },
  {
    name: 'the spread is learned: the same jump over a noisy baseline (±40 ms) is normal',
    tweak: WARM_20,
    phases: [{ n: 40, values: (i) => p99(i % 2 === 0 ? 60 : 140) }, { n: 10, values: p99(170) }],
    expected: ['none', 'none'],
  },
  {
    name: 'a mildly noisy baseline (±10 ms) still flags the jump',
    tweak: WARM_20,
    phases: [{ n: 40, values: (i) => p99(i % 2 === 0 ? 90 : 110) }, { n: 3, values: p99(170) }],
    expected: ['none', 'minor'],
  },
  { name: 'major at 10 spreads', tweak: WARM_20, phases: [baseline, { n: 3, values: p99(210) }], expected: ['none', 'major'] },
  { name: 'critical at 20 spreads', tweak: WARM_20, phases: [baseline, { n: 3, values: p99(320) }], expected: ['none', 'critical'] },
  {
    name: 'severity follows the deviation while open',
    tweak: WARM_20,
    phases: [baseline, { n: 3, values: p99(170) }, { n: 1, values: p99(250) }, { n: 1, values: p99(400) }],
    expected: ['none', 'minor', 'major', 'critical'],
  },
  {
    name: 'hysteresis: 3 spreads keeps it open, 5 samples within 2 spreads resolve it',
    tweak: WARM_20,
    phases: [baseline, { n: 3, values: p99(170) }, { n: 10, values: p99(130) }, { n: 4, values: p99(110) }, { n: 1, values: p99(110) }],
    expected: ['none', 'minor', 'minor', 'minor', 'resolved'],
  },
  {
    name: 'hysteresis: a sample back above 2 spreads restarts the resolve count',
    tweak: WARM_20,
    phases: [baseline, { n: 3, values: p99(170) }, { n: 4, values: p99(100) }, { n: 1, values: p99(130) }, { n: 4, values: p99(100) }],
    expected: ['none', 'minor', 'minor', 'minor', 'minor'],
  },
  {
    name: 'an anomaly that lasts relearnAfterMs becomes the new baseline and resolves',
    tweak: { anomaly: { warmupSamples: 20, relearnAfterMs: 60 * SECOND } },
    phases: [baseline, { n: 3, values: p99(170) }, { n: 59, values: p99(170) }, { n: 1, values: p99(170) }, { n: 30, values: p99(170) }],
    expected: ['none', 'minor', 'minor', 'resolved', 'none'],
  },
  {
    name: 'not opened while the latency threshold already fires for the same fault',
    tweak: WARM_20,
    phases: [baseline, { n: 10, values: p99(1500) }],
    expected: ['none', 'none'],
  },
  {
    name: 'opened next to the threshold when suppression is off (config)',
    tweak: { anomaly: { warmupSamples: 20, suppressWhenThresholdFiring: false } },
    phases: [baseline, { n: 3, values: p99(1500) }],
    expected: ['none', 'critical'],
  },
  { name: 'anomaly detection disabled (config) opens nothing', tweak: { anomaly: { enabled: false, warmupSamples: 20 } }, phases: [baseline, { n: 10, values: p99(300) }], expected: ['none', 'none'] },
  {
    name: 'event-loop lag has its own baseline (10 ms, spread floor 5 ms)',
    key: 'anomaly.event_loop_lag',
    tweak: WARM_20,
    phases: [{ n: 20, values: { eventLoopLagMs: 10 } }, { n: 3, values: { eventLoopLagMs: 50 } }],
    expected: ['none', 'minor'],
  },
  {
    name: 'CPU is off by default',
    key: 'anomaly.cpu',
    tweak: WARM_20,
    phases: [{ n: 20, values: { cpu: 0.2 } }, { n: 5, values: { cpu: 0.6 } }],
    expected: ['none', 'none'],
  },
  {
    name: 'CPU opted in (config) opens on a jump from 0.2 to 0.6',
    key: 'anomaly.cpu',
    tweak: { anomaly: { warmupSamples: 20, metrics: { cpu: { enabled: true } } } },
    phases: [{ n: 20, values: { cpu: 0.2 } }, { n: 3, values: { cpu: 0.6 } }],
    expected: ['none', 'minor'],
  },
  {
    name: 'a downward shift is not an anomaly',
    tweak: WARM_20,
    phases: [{ n: 20, values: p99(500) }, { n: 10, values: p99(50) }],
    expected: ['none', 'none'],
  },
];

describe('anomaly rule (through evaluateMetrics)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(levels(feed(configWith(c.tweak), c.phases), c.key ?? LATENCY)).toEqual(c.expected);
  });

  it('the suppressed case is the latency threshold incident, not a second one', () => {
    const [, signals] = feed(configWith(WARM_20), [baseline, { n: 10, values: p99(1500) }]);
    expect(signals.filter((s) => s.firing).map((s) => s.key)).toEqual(['latency']);
  });

  it('evidence says how far from which baseline', () => {
    const [, signals] = feed(configWith(WARM_20), [baseline, { n: 3, values: p99(170) }]);
    expect(signals.find((s) => s.key === LATENCY)).toEqual({
      kind: 'anomaly',
      key: LATENCY,
      firing: true,
      severity: 'minor',
      signalAt: T0 + 23 * SECOND,
      evidence: { value: 170, baseline: 100, spread: 10, deviations: 7, k: 5, learnedSamples: 20 },
    });
  });

  it('during warm-up the baseline is the plain average of what was learned, not biased towards the first samples', () => {
    const [, signals] = feed(configWith(WARM_20), [{ n: 20, values: (i) => p99(i < 10 ? 80 : 120) }, { n: 3, values: p99(250) }]);
    const evidence = signals.find((s) => s.key === LATENCY)?.evidence as { baseline: number; learnedSamples: number };
    expect(evidence.learnedSamples).toBe(20);
    expect(evidence.baseline).toBeCloseTo(100, 6);
  });

  it('a relearned baseline resolves with the reason', () => {
    const batches = feed(configWith({ anomaly: { warmupSamples: 20, relearnAfterMs: 60 * SECOND } }), [baseline, { n: 3, values: p99(170) }, { n: 61, values: p99(170) }]);
    const resolved = batches[2].find((s) => s.key === LATENCY);
    expect(resolved).toMatchObject({ firing: false, signalAt: T0 + 83 * SECOND, evidence: { value: 170 } });
    expect(String(resolved?.evidence.reason)).toContain('new baseline');
  });

  it('baselines are per instance: the same sample is anomalous for one and normal for another', () => {
    const config = configWith(WARM_20);
    const fast = evaluateMetrics(undefined, Array.from({ length: 20 }, (_, i) => sample((i + 1) * SECOND, p99(100))), config, T0 + 20 * SECOND).state;
    const slow = evaluateMetrics(undefined, Array.from({ length: 20 }, (_, i) => sample((i + 1) * SECOND, p99(400))), config, T0 + 20 * SECOND).state;
    const spike = [21, 22, 23].map((s) => sample(s * SECOND, p99(400)));
    // Interleaved, as the detector does for many instances.
    const fastAfter = evaluateMetrics(fast, spike, config, T0 + 23 * SECOND).signals;
    const slowAfter = evaluateMetrics(slow, spike, config, T0 + 23 * SECOND).signals;
    expect(levels([fastAfter, slowAfter], LATENCY)).toEqual(['critical', 'none']);
  });
});
