import { DEFAULT_RULE_CONFIG } from './rule-config.js';
import type { RuleConfig, RuleConfigOverride, RuleSignal } from './rule.types.js';
import { configWith, feed as feedSamples, HOUR, levels as levelsOf, MINUTE, T0, type Case, type Phase } from './test-support/rule-samples.js';

/** Feeds one-minute samples, one a minute. */
const feed = (config: RuleConfig, phases: Phase[]): RuleSignal[][] => feedSamples(config, phases, undefined, MINUTE);

const KEY = 'slo.availability';

/** Per batch, the level of the SLO signal: 'none', its severity while firing, or 'resolved'. */
const levels = (batches: RuleSignal[][]): string[] => levelsOf(batches, KEY);

/** 1000 requests a minute with the given share failing. Against 99.9 %, burn rate = share / 0.001. */
const failing = (share: number): Phase['values'] => ({ requests: 1000, errors: Math.round(share * 1000) });
const clean = (minutes: number): Phase => ({ n: minutes, values: failing(0) });

/** Only the fast-burn alert, so its own hysteresis is visible. */
const FAST_ONLY: RuleConfigOverride = { slo: { alerts: [{ longWindowMs: HOUR, shortWindowMs: 5 * MINUTE, burnRate: 14.4, severity: 'critical' }] } };

// Defaults: target 99.9 %; 1 h/5 min windows at burn ≥ 14.4 → critical; 6 h/30 min at burn ≥ 6 → major;
// a firing alert resolves when its short window burns below burnRate × 0.8; a window needs ≥ 20 requests.
const cases: Case[] = [
  { name: 'a steady 1.5 % (15× budget) opens critical', phases: [{ n: 10, values: failing(0.015) }], expected: ['critical'] },
  { name: 'a steady 1.4 % (14×) is just below the fast burn: major only', phases: [{ n: 90, values: failing(0.014) }], expected: ['major'] },
  { name: 'a steady 0.7 % (7×) opens major', phases: [{ n: 30, values: failing(0.007) }], expected: ['major'] },
  { name: 'a steady 0.5 % (5×) is just below the slow burn: nothing in 8 hours', phases: [{ n: 480, values: failing(0.005) }], expected: ['none'] },
  {
    name: 'after a clean hour, 10 % errors open major within minutes and critical once the hour has burnt enough',
    phases: [clean(60), { n: 2, values: failing(0.1) }, { n: 4, values: failing(0.1) }, { n: 8, values: failing(0.1) }],
    expected: ['none', 'none', 'major', 'critical'],
  },
  {
    name: 'a one-minute spike burns the short windows only: nothing opens',
    phases: [clean(60), { n: 1, values: failing(0.2) }, clean(30)],
    expected: ['none', 'none', 'none'],
  },
  {
    name: 'too little traffic to judge: nothing until a window holds 20 requests',
    phases: [
      { n: 6, values: { requests: 3, errors: 3 } },
      { n: 1, values: { requests: 3, errors: 3 } },
    ],
    expected: ['none', 'major'],
  },
  {
    name: 'hysteresis: a short window at 13× (between 11.52 and 14.4) stays open, at 10× it resolves',
    tweak: FAST_ONLY,
    phases: [clean(60), { n: 15, values: failing(0.1) }, { n: 30, values: failing(0.013) }, { n: 10, values: failing(0.01) }],
    expected: ['none', 'critical', 'critical', 'resolved'],
  },
  {
    name: 'as the fast burn subsides the slow alert keeps it open at major, then everything resolves',
    phases: [clean(60), { n: 15, values: failing(0.1) }, { n: 10, values: failing(0.01) }, clean(40)],
    expected: ['none', 'critical', 'major', 'resolved'],
  },
  { name: 'a looser target (99 %, config): 2 % errors is only 2× budget', tweak: { slo: { target: 0.99 } }, phases: [{ n: 60, values: failing(0.02) }], expected: ['none'] },
  { name: 'the default target: 2 % errors is 20× budget', phases: [{ n: 60, values: failing(0.02) }], expected: ['critical'] },
  { name: 'SLO alerts disabled (config)', tweak: { slo: { enabled: false } }, phases: [{ n: 60, values: failing(0.5) }], expected: ['none'] },
  { name: 'no alerts configured', tweak: { slo: { alerts: [] } }, phases: [{ n: 60, values: failing(0.5) }], expected: ['none'] },
  { name: 'samples without request counts burn nothing', phases: [{ n: 60, values: { cpu: 0.5 } }], expected: ['none'] },
];

describe('SLO burn rule (through evaluateMetrics)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(levels(feed(configWith(c.tweak), c.phases))).toEqual(c.expected);
  });

  it('evidence lists each alert with its windows, burn rates and whether it fires', () => {
    const [signals] = feed(DEFAULT_RULE_CONFIG, [{ n: 10, values: failing(0.02) }]);
    const signal = signals.find((s) => s.key === KEY);
    expect(signal).toMatchObject({ kind: 'slo_burn', firing: true, severity: 'critical', signalAt: T0 + MINUTE });
    expect(signal?.evidence).toEqual({
      target: 0.999,
      alerts: [
        { firing: true, burnRate: 14.4, longWindowMs: HOUR, longBurn: 20, shortWindowMs: 5 * MINUTE, shortBurn: 20 },
        { firing: true, burnRate: 6, longWindowMs: 6 * HOUR, longBurn: 20, shortWindowMs: 30 * MINUTE, shortBurn: 20 },
      ],
    });
  });

  it('the resolve carries the severity it had and the sample that resolved it', () => {
    const batches = feed(configWith(FAST_ONLY), [clean(60), { n: 15, values: failing(0.1) }, { n: 10, values: failing(0) }]);
    const resolved = batches[2].find((s) => s.key === KEY);
    expect(resolved).toMatchObject({ kind: 'slo_burn', firing: false, severity: 'critical' });
    // The errors stop after minute 75; the 5-minute window (75 s buckets, the oldest one weighted by
    // how much of it is still inside) drops below 11.52 within a window and a bucket: inside the batch, not at its end.
    expect(resolved?.signalAt).toBeGreaterThan(T0 + 75 * MINUTE);
    expect(resolved?.signalAt).toBeLessThanOrEqual(T0 + 75 * MINUTE + 5 * MINUTE + 75_000);
  });
});
