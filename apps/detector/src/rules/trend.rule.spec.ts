import type { MetricSample } from '@autoheal/contracts';
import { evaluateMetrics } from './evaluate-metrics.js';
import { DEFAULT_RULE_CONFIG } from './rule-config.js';
import type { InstanceRuleState, RuleConfig, RuleSignal } from './rule.types.js';
import { configWith, feed as feedSamples, levels, MINUTE, sample as sampleOf, SECOND, T0, type Case as RuleCase, type Fields } from './test-support/rule-samples.js';

const EVERY = 10 * SECOND;

/** A run of `minutes` of samples every 10 s; the metric is a function of the time since T0 (ms). */
interface Phase {
  minutes: number;
  values: (t: number) => Fields;
}

const sample = (offsetMs: number, fields: Fields): MetricSample => sampleOf(offsetMs, fields, EVERY);

/** Feeds each phase as one batch (now = its last sample) and returns every batch's signals. */
const feed = (config: RuleConfig, phases: Phase[]): RuleSignal[][] =>
  feedSamples(
    config,
    phases.map(({ minutes, values }) => ({ n: (minutes * MINUTE) / EVERY, values: (_i: number, t: number) => values(t) })),
    undefined,
    EVERY,
  );

const memory = (ratio: number): Fields => ({ memoryBytes: Math.round(ratio * 1e9), memoryLimitBytes: 1e9 });
/** Memory at `from` at minute `start`, growing `perMinute` (of the limit) each minute. */
const leak =
  (from: number, perMinute: number, start = 0) =>
  (t: number): Fields =>
    memory(from + (perMinute * (t - start * MINUTE)) / MINUTE);
const flat = (ratio: number) => (): Fields => memory(ratio);
/** Memory rising from 50 % and levelling off at 88 % (time constant 10 min): a leak that slows down. */
const levellingOff = (t: number): Fields => memory(0.88 - 0.38 * Math.exp(-t / (10 * MINUTE)));
const MEMORY = 'predicted.memory';

type Case = RuleCase<Phase>;

// Defaults: threshold 90 %; opens when the fitted line (time constant 5 min, R² ≥ 0.8, ≥ 20 samples over
// ≥ 2 min) crosses it within 15 min on 3 samples in a row; resolves when the crossing is beyond 30 min,
// the slope is gone or R² < 0.5 (3 in a row). Major within 5 min of crossing, critical once there.
const cases: Case[] = [
  {
    name: 'a steady leak (1 %/min from 50 %) is predicted once the crossing is 15 min away, and escalates as it nears',
    // Crossing at minute 40. Minute 20: 20 min left; 26: 14 min; 36: 4 min; 41: past 90 %.
    phases: [
      { minutes: 20, values: leak(0.5, 0.01) },
      { minutes: 6, values: leak(0.5, 0.01) },
      { minutes: 10, values: leak(0.5, 0.01) },
      { minutes: 5, values: leak(0.5, 0.01) },
    ],
    expected: ['none', 'minor', 'major', 'critical'],
  },
  { name: 'a flat series predicts nothing', phases: [{ minutes: 60, values: flat(0.5) }], expected: ['none'] },
  { name: 'a flat series just under the threshold predicts nothing', phases: [{ minutes: 60, values: flat(0.89) }], expected: ['none'] },
  {
    name: 'noise around a flat level (85–89 %) predicts nothing',
    phases: [{ minutes: 60, values: (t) => memory(t % (2 * EVERY) === 0 ? 0.85 : 0.89) }],
    expected: ['none'],
  },
  {
    name: 'a slow leak whose crossing stays beyond the horizon (0.1 %/min) predicts nothing',
    phases: [{ minutes: 60, values: leak(0.5, 0.001) }],
    expected: ['none'],
  },
  {
    name: 'a leak whose crossing comes no nearer than 20 min (0.5 %/min from 60 %) predicts nothing',
    phases: [{ minutes: 40, values: leak(0.6, 0.005) }],
    expected: ['none'],
  },
  {
    name: 'too little history: a steep climb seen for under 2 minutes predicts nothing, a little later it does',
    // 2 %/min from 80 %: crossing after 5 min.
    phases: [
      { minutes: 1.5, values: leak(0.8, 0.02) },
      { minutes: 2.5, values: leak(0.8, 0.02) },
    ],
    expected: ['none', 'major'],
  },
  {
    name: 'hysteresis: a slowing leak stays predicted while the crossing is 15–30 min away, resolves beyond 30 min',
    // Memory levelling off below 90 %: the fitted crossing recedes past 15 min around minute 46 and past 30 min around minute 54.
    phases: [
      { minutes: 30, values: levellingOff },
      { minutes: 18, values: levellingOff },
      { minutes: 10, values: levellingOff },
    ],
    expected: ['minor', 'minor', 'resolved'],
  },
  {
    name: 'a leak that stops resolves once the fitted slope is gone',
    phases: [
      { minutes: 26, values: leak(0.5, 0.01) },
      { minutes: 30, values: flat(0.76) },
    ],
    expected: ['minor', 'resolved'],
  },
  {
    name: 'a restart that frees the memory resolves within a minute',
    phases: [
      { minutes: 26, values: leak(0.5, 0.01) },
      { minutes: 1, values: flat(0.3) },
    ],
    expected: ['minor', 'resolved'],
  },
  {
    name: 'disk has its own fit',
    key: 'predicted.disk',
    phases: [
      { minutes: 20, values: (t) => ({ diskUsedRatio: 0.5 + (0.01 * t) / MINUTE }) },
      { minutes: 6, values: (t) => ({ diskUsedRatio: 0.5 + (0.01 * t) / MINUTE }) },
    ],
    expected: ['none', 'minor'],
  },
  {
    name: 'a longer horizon (config) predicts earlier',
    tweak: { trend: { horizonMs: 30 * MINUTE, resolveHorizonMs: 60 * MINUTE } },
    phases: [{ minutes: 15, values: leak(0.5, 0.01) }],
    expected: ['minor'],
  },
  { name: 'trend disabled (config)', tweak: { trend: { enabled: false } }, phases: [{ minutes: 45, values: leak(0.5, 0.01) }], expected: ['none'] },
  {
    name: 'memory trend disabled (config)',
    tweak: { trend: { metrics: { memory: { enabled: false } } } },
    phases: [{ minutes: 45, values: leak(0.5, 0.01) }],
    expected: ['none'],
  },
];

describe('trend rule (through evaluateMetrics)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(levels(feed(configWith(c.tweak), c.phases), c.key ?? MEMORY)).toEqual(c.expected);
  });

  it('`predicted` comes before the memory threshold is crossed, with the crossing in the evidence', () => {
    const [, signals] = feed(DEFAULT_RULE_CONFIG, [
      { minutes: 20, values: leak(0.5, 0.01) },
      { minutes: 6, values: leak(0.5, 0.01) },
    ]);
    const predicted = signals.find((s) => s.key === MEMORY);
    expect(signals.find((s) => s.key === 'saturation.memory')).toBeUndefined();
    expect(predicted).toMatchObject({ kind: 'predicted', firing: true, severity: 'minor' });
    const evidence = predicted?.evidence as { value: number; slopePerMinute: number; r2: number; threshold: number; etaMs: number; crossingAt: string };
    expect(evidence.threshold).toBe(0.9);
    expect(evidence.value).toBeCloseTo(0.76, 3);
    expect(evidence.slopePerMinute).toBeCloseTo(0.01, 4);
    expect(evidence.r2).toBeCloseTo(1, 3);
    // 14 % to go at 1 %/min from minute 26.
    expect(evidence.etaMs).toBeGreaterThan(13.9 * MINUTE);
    expect(evidence.etaMs).toBeLessThanOrEqual(14.1 * MINUTE);
    expect(Date.parse(evidence.crossingAt)).toBeCloseTo(T0 + 40 * MINUTE, -4);
    // Opened by the third sample in a row with the crossing at most 15 min ahead (minute 25).
    expect(predicted?.signalAt).toBeGreaterThan(T0 + 25 * MINUTE);
    expect(predicted?.signalAt).toBeLessThanOrEqual(T0 + 25 * MINUTE + 3 * EVERY);
  });

  it('hysteresis: in between, the fitted crossing is beyond the open horizon yet the signal stays', () => {
    const [, between] = feed(DEFAULT_RULE_CONFIG, [
      { minutes: 30, values: levellingOff },
      { minutes: 18, values: levellingOff },
    ]);
    const signal = between.find((s) => s.key === MEMORY);
    expect(signal?.firing).toBe(true);
    const { etaMs } = signal?.evidence as { etaMs: number };
    expect(etaMs).toBeGreaterThan(15 * MINUTE);
    expect(etaMs).toBeLessThanOrEqual(30 * MINUTE);
  });

  it('a silence longer than maxGapMs restarts the fit: the level is kept until a fresh fit decides', () => {
    // Leak until minute 26 (predicted), 5 minutes without samples, then memory at a flat 50 % (freed meanwhile).
    let state: InstanceRuleState | undefined;
    const batch = (fromMin: number, toMin: number, values: (t: number) => Fields): RuleSignal[] => {
      const samples: MetricSample[] = [];
      for (let t = fromMin * MINUTE + EVERY; t <= toMin * MINUTE; t += EVERY) samples.push(sample(t, values(t)));
      const result = evaluateMetrics(state, samples, DEFAULT_RULE_CONFIG, T0 + toMin * MINUTE);
      state = result.state;
      return result.signals;
    };
    const batches = [batch(0, 26, leak(0.5, 0.01)), batch(31, 32, flat(0.5)), batch(32, 36, flat(0.5))];
    // The old fit would see the drop at once and call the slope gone; a fresh one needs 2 minutes of history.
    expect(levels(batches, MEMORY)).toEqual(['minor', 'minor', 'resolved']);
  });
});
