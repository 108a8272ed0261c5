import { DEFAULT_RULE_CONFIG } from './rule-config.js';
import { configWith, feed, levels, SECOND, T0, type Case as RuleCase, type Fields } from './test-support/rule-samples.js';

const errors = (rate: number): Fields => ({ requests: 1000, errors: Math.round(rate * 1000) });
const p99 = (ms: number): Fields => ({ requests: 100, latencyMs: { p50: ms / 4, p99: ms } });
const cpu = (ratio: number): Fields => ({ cpu: ratio });
const memory = (ratio: number): Fields => ({ memoryBytes: Math.round(ratio * 1e9), memoryLimitBytes: 1e9 });
const lag = (ms: number): Fields => ({ eventLoopLagMs: ms });
const disk = (ratio: number): Fields => ({ diskUsedRatio: ratio });

type Case = RuleCase & { key: string };

// Defaults: error rate 3 of 5 ≥ 5 % (resolve ≤ 2 %, major 10 %, critical 25 %, ≥ 20 requests);
// latency p99 3 of 5 ≥ 1000 ms (resolve ≤ 500, major 2000, critical 5000, ≥ 10 requests);
// CPU ≥ 0.9 for 30 s (resolve ≤ 0.7 for 10 s); memory and disk ≥ 0.9 for 10 s (resolve ≤ 0.85);
// event-loop lag 3 of 5 ≥ 200 ms (resolve ≤ 100). Severity: major 0.95 / critical 0.99 (CPU), 0.95 / 0.98 (memory, disk).
const cases: Case[] = [
  // error rate, M-of-N
  { name: 'error rate: 3 samples at the open threshold open (minor)', key: 'error_rate', phases: [{ n: 3, values: errors(0.05) }], expected: ['minor'] },
  { name: 'error rate: just below the open threshold opens nothing', key: 'error_rate', phases: [{ n: 20, values: errors(0.049) }], expected: ['none'] },
  {
    name: 'error rate: never 3 of any 5 samples opens nothing',
    key: 'error_rate',
    phases: [{ n: 20, values: (i) => errors(i % 3 === 0 ? 0.2 : 0) }],
    expected: ['none'],
  },
  {
    name: 'error rate: 3 of 5 that are not consecutive open',
    key: 'error_rate',
    phases: [{ n: 5, values: (i) => errors(i % 2 === 0 ? 0.06 : 0) }],
    expected: ['minor'],
  },
  { name: 'error rate: too few requests to judge opens nothing', key: 'error_rate', phases: [{ n: 20, values: { requests: 19, errors: 19 } }], expected: ['none'] },
  {
    name: 'error rate: samples with too few requests do not count towards M of N',
    key: 'error_rate',
    phases: [{ n: 2, values: errors(0.5) }, { n: 10, values: { requests: 5, errors: 5 } }, { n: 1, values: errors(0.5) }],
    expected: ['none', 'none', 'critical'],
  },
  {
    name: 'error rate hysteresis: stays open between resolve and open, resolves on the 3rd sample at or below resolve',
    key: 'error_rate',
    phases: [
      { n: 3, values: errors(0.06) },
      { n: 20, values: errors(0.03) },
      { n: 2, values: errors(0.02) },
      { n: 1, values: errors(0.02) },
    ],
    expected: ['minor', 'minor', 'minor', 'resolved'],
  },
  {
    name: 'error rate: the resolve run starts after the open (earlier good samples do not count)',
    key: 'error_rate',
    // At the open the last 5 are bad, good, good, bad, bad: one more good sample would make 3 of 5.
    phases: [{ n: 5, values: (i) => errors([0.06, 0, 0, 0.06, 0.06][i]) }, { n: 1, values: errors(0) }],
    expected: ['minor', 'minor'],
  },
  { name: 'error rate: major at 10 %', key: 'error_rate', phases: [{ n: 3, values: errors(0.12) }], expected: ['major'] },
  { name: 'error rate: critical at 25 %', key: 'error_rate', phases: [{ n: 3, values: errors(0.3) }], expected: ['critical'] },
  {
    name: 'error rate: severity follows the value while open (escalates, then steps back)',
    key: 'error_rate',
    phases: [
      { n: 3, values: errors(0.06) },
      { n: 1, values: errors(0.15) },
      { n: 1, values: errors(0.3) },
      { n: 1, values: errors(0.06) },
    ],
    expected: ['minor', 'major', 'critical', 'minor'],
  },
  {
    name: 'error rate: a silence longer than maxGapMs restarts the M-of-N window',
    key: 'error_rate',
    phases: [
      { n: 2, values: errors(0.1) },
      { n: 1, gap: 61 * SECOND, values: errors(0.1) },
    ],
    expected: ['none', 'none'],
  },
  {
    name: 'error rate: a pause within maxGapMs keeps the M-of-N window',
    key: 'error_rate',
    phases: [
      { n: 2, values: errors(0.1) },
      { n: 1, gap: 58 * SECOND, values: errors(0.1) },
    ],
    expected: ['none', 'major'],
  },
  {
    name: 'error rate in `for` mode (config): 4 s of breach is too short, 5 s opens',
    key: 'error_rate',
    tweak: { errorRate: { mode: 'for', forMs: 5 * SECOND } },
    phases: [{ n: 5, values: errors(0.1) }, { n: 1, values: errors(0.1) }],
    expected: ['none', 'major'],
  },
  { name: 'error rate: 1 of 1 (config) opens on one sample', key: 'error_rate', tweak: { errorRate: { m: 1, n: 1 } }, phases: [{ n: 1, values: errors(0.06) }], expected: ['minor'] },
  {
    name: 'error rate: a lower open threshold (config) opens what the default does not',
    key: 'error_rate',
    tweak: { errorRate: { open: 0.03, resolve: 0.01 } },
    phases: [{ n: 3, values: errors(0.04) }],
    expected: ['minor'],
  },

  // latency percentile
  { name: 'latency: p99 at 1000 ms on 3 samples opens', key: 'latency', phases: [{ n: 3, values: p99(1000) }], expected: ['minor'] },
  { name: 'latency: p99 just below 1000 ms opens nothing', key: 'latency', phases: [{ n: 20, values: p99(999) }], expected: ['none'] },
  { name: 'latency: too few requests opens nothing', key: 'latency', phases: [{ n: 20, values: { requests: 9, latencyMs: { p50: 900, p99: 9000 } } }], expected: ['none'] },
  { name: 'latency: major at 2000 ms', key: 'latency', phases: [{ n: 3, values: p99(2500) }], expected: ['major'] },
  { name: 'latency: critical at 5000 ms', key: 'latency', phases: [{ n: 3, values: p99(6000) }], expected: ['critical'] },
  {
    name: 'latency: p99 computed from the histogram when not reported (1750 ms)',
    key: 'latency',
    phases: [
      {
        n: 3,
        values: {
          requests: 100,
          latencyHistogram: [
            { le: 100, count: 90 },
            { le: 1000, count: 98 },
            { le: 2500, count: 100 },
          ],
        },
      },
    ],
    expected: ['minor'],
  },
  {
    name: 'latency: the configured percentile is the one judged (p50)',
    key: 'latency',
    tweak: { latency: { percentile: 'p50' } },
    phases: [{ n: 5, values: { requests: 100, latencyMs: { p50: 300, p99: 9000 } } }],
    expected: ['none'],
  },
  {
    name: 'latency hysteresis: between 500 and 1000 ms stays open, 3 samples at 500 ms resolve',
    key: 'latency',
    phases: [
      { n: 3, values: p99(1500) },
      { n: 20, values: p99(700) },
      { n: 3, values: p99(500) },
    ],
    expected: ['minor', 'minor', 'resolved'],
  },

  // CPU, `for` 30 s
  { name: 'cpu: 30 s at or above 0.9 opens', key: 'saturation.cpu', phases: [{ n: 31, values: cpu(0.9) }], expected: ['minor'] },
  { name: 'cpu: 29 s above 0.9 is too short', key: 'saturation.cpu', phases: [{ n: 30, values: cpu(0.92) }], expected: ['none'] },
  { name: 'cpu: just below 0.9 for minutes opens nothing', key: 'saturation.cpu', phases: [{ n: 300, values: cpu(0.899) }], expected: ['none'] },
  {
    name: 'cpu: one sample below restarts the duration',
    key: 'saturation.cpu',
    phases: [
      { n: 20, values: cpu(0.95) },
      { n: 1, values: cpu(0.85) },
      { n: 20, values: cpu(0.95) },
    ],
    expected: ['none', 'none', 'none'],
  },
  {
    name: 'cpu: a silence longer than maxGapMs restarts the duration',
    key: 'saturation.cpu',
    phases: [
      { n: 20, values: cpu(0.92) },
      { n: 15, gap: 61 * SECOND, values: cpu(0.92) },
    ],
    expected: ['none', 'none'],
  },
  {
    name: 'cpu hysteresis: stays open above 0.7, resolves after 10 s at or below 0.7',
    key: 'saturation.cpu',
    phases: [
      { n: 31, values: cpu(0.92) },
      { n: 60, values: cpu(0.8) },
      { n: 10, values: cpu(0.7) },
      { n: 1, values: cpu(0.6) },
    ],
    expected: ['minor', 'minor', 'minor', 'resolved'],
  },
  {
    name: 'cpu: a sample back above resolve restarts the resolve duration',
    key: 'saturation.cpu',
    phases: [
      { n: 31, values: cpu(0.92) },
      { n: 8, values: cpu(0.6) },
      { n: 1, values: cpu(0.75) },
      { n: 8, values: cpu(0.6) },
    ],
    expected: ['minor', 'minor', 'minor', 'minor'],
  },
  { name: 'cpu: major at 0.95', key: 'saturation.cpu', phases: [{ n: 31, values: cpu(0.96) }], expected: ['major'] },
  { name: 'cpu: critical at 0.99', key: 'saturation.cpu', phases: [{ n: 31, values: cpu(0.995) }], expected: ['critical'] },
  { name: 'cpu: disabled (config) never opens', key: 'saturation.cpu', tweak: { saturation: { cpu: { enabled: false } } }, phases: [{ n: 60, values: cpu(1) }], expected: ['none'] },

  // memory against its limit, `for` 10 s
  { name: 'memory: 10 s at 92 % of the limit opens', key: 'saturation.memory', phases: [{ n: 11, values: memory(0.92) }], expected: ['minor'] },
  { name: 'memory: 89 % of the limit opens nothing', key: 'saturation.memory', phases: [{ n: 60, values: memory(0.89) }], expected: ['none'] },
  {
    name: 'memory: bytes without a limit are not a ratio and open nothing',
    key: 'saturation.memory',
    phases: [{ n: 60, values: { memoryBytes: 4e9 } }],
    expected: ['none'],
  },
  { name: 'memory: major at 95 %', key: 'saturation.memory', phases: [{ n: 11, values: memory(0.96) }], expected: ['major'] },
  { name: 'memory: critical at 98 %', key: 'saturation.memory', phases: [{ n: 11, values: memory(0.99) }], expected: ['critical'] },
  {
    name: 'memory hysteresis: 87 % stays open, 85 % for 10 s resolves',
    key: 'saturation.memory',
    phases: [
      { n: 11, values: memory(0.92) },
      { n: 60, values: memory(0.87) },
      { n: 11, values: memory(0.85) },
    ],
    expected: ['minor', 'minor', 'resolved'],
  },

  // event-loop lag, M-of-N
  { name: 'event-loop lag: 3 samples at 250 ms open', key: 'saturation.event_loop_lag', phases: [{ n: 3, values: lag(250) }], expected: ['minor'] },
  { name: 'event-loop lag: 199 ms opens nothing', key: 'saturation.event_loop_lag', phases: [{ n: 20, values: lag(199) }], expected: ['none'] },
  { name: 'event-loop lag: 2 of 5 opens nothing', key: 'saturation.event_loop_lag', phases: [{ n: 5, values: (i) => lag(i < 2 ? 900 : 10) }], expected: ['none'] },
  { name: 'event-loop lag: major at 500 ms', key: 'saturation.event_loop_lag', phases: [{ n: 3, values: lag(600) }], expected: ['major'] },
  { name: 'event-loop lag: critical at 1000 ms', key: 'saturation.event_loop_lag', phases: [{ n: 3, values: lag(1500) }], expected: ['critical'] },
  {
    name: 'event-loop lag hysteresis: 150 ms stays open, 100 ms resolves',
    key: 'saturation.event_loop_lag',
    phases: [
      { n: 3, values: lag(250) },
      { n: 20, values: lag(150) },
      { n: 3, values: lag(100) },
    ],
    expected: ['minor', 'minor', 'resolved'],
  },

  // disk, `for` 10 s
  { name: 'disk: 10 s at 91 % opens', key: 'saturation.disk', phases: [{ n: 11, values: disk(0.91) }], expected: ['minor'] },
  { name: 'disk: 9 s at 99 % is too short', key: 'saturation.disk', phases: [{ n: 10, values: disk(0.99) }], expected: ['none'] },
  { name: 'disk: critical at 98 %', key: 'saturation.disk', phases: [{ n: 11, values: disk(0.99) }], expected: ['critical'] },
  {
    name: 'disk hysteresis: 88 % stays open, 80 % for 10 s resolves',
    key: 'saturation.disk',
    phases: [
      { n: 11, values: disk(0.96) },
      { n: 60, values: disk(0.88) },
      { n: 11, values: disk(0.8) },
    ],
    expected: ['major', 'minor', 'resolved'],
  },
];

describe('threshold rules (through evaluateMetrics)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(levels(feed(configWith(c.tweak), c.phases), c.key)).toEqual(c.expected);
  });

  it('an M-of-N signal carries the kind, the sample time it opened at and the values that decided it', () => {
    const [signals] = feed(DEFAULT_RULE_CONFIG, [{ n: 5, values: (i) => errors(i < 2 ? 0 : 0.06) }]);
    expect(signals.find((s) => s.key === 'error_rate')).toEqual({
      kind: 'error_rate',
      key: 'error_rate',
      firing: true,
      severity: 'minor',
      signalAt: T0 + 5 * SECOND,
      evidence: { value: 0.06, open: 0.05, resolve: 0.02, window: '3 of 5 samples' },
    });
  });

  it('a `for` signal says since when the breach held', () => {
    const [signals] = feed(DEFAULT_RULE_CONFIG, [{ n: 40, values: (i) => cpu(i < 5 ? 0.5 : 0.93) }]);
    const signal = signals.find((s) => s.key === 'saturation.cpu');
    expect(signal).toMatchObject({ kind: 'saturation', firing: true, severity: 'minor', signalAt: T0 + 36 * SECOND });
    expect(signal?.evidence).toEqual({ value: 0.93, open: 0.9, resolve: 0.7, window: '30000 ms', breachSince: new Date(T0 + 6 * SECOND).toISOString() });
  });

  it('a resolved signal carries the resolving sample and its value', () => {
    const batches = feed(DEFAULT_RULE_CONFIG, [
      { n: 3, values: errors(0.3) },
      { n: 3, values: errors(0.01) },
    ]);
    expect(batches[1].find((s) => s.key === 'error_rate')).toMatchObject({
      kind: 'error_rate',
      firing: false,
      signalAt: T0 + 6 * SECOND,
      evidence: { value: 0.01 },
    });
  });

  it('the saturation rules are separate signals of one kind', () => {
    const [signals] = feed(DEFAULT_RULE_CONFIG, [{ n: 31, values: { ...cpu(0.95), ...memory(0.99), ...disk(0.91) } }]);
    expect(signals.filter((s) => s.kind === 'saturation').map((s) => [s.kind, s.key, s.severity])).toEqual([
      ['saturation', 'saturation.cpu', 'major'],
      ['saturation', 'saturation.memory', 'critical'],
      ['saturation', 'saturation.disk', 'minor'],
    ]);
  });
});
