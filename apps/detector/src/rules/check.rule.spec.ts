import { MAX_TRACKED_CHECKS } from './check.rule.js';
import { evaluateMetrics } from './evaluate-metrics.js';
import { DEFAULT_RULE_CONFIG } from './rule-config.js';
import { configWith, feed, levels, sample, SECOND, T0, type Case, type Fields } from './test-support/rule-samples.js';

const db = (ok: boolean, detail?: string): Fields => ({ checks: [{ name: 'db', ok, ...(detail !== undefined ? { detail } : {}) }] });
const FAIL = db(false);
const PASS = db(true);
const DB = 'check.db';

// Defaults: 3 failures in a row open `check.<name>` (major), 2 passes in a row resolve it.
const cases: Case[] = [
  { name: '3 failures in a row open (major)', phases: [{ n: 3, values: FAIL }], expected: ['major'] },
  { name: '2 failures are not enough', phases: [{ n: 2, values: FAIL }], expected: ['none'] },
  { name: 'a pass between failures restarts the count', phases: [{ n: 10, values: (i) => (i % 3 === 2 ? PASS : FAIL) }], expected: ['none'] },
  { name: 'passing checks open nothing', phases: [{ n: 30, values: PASS }], expected: ['none'] },
  {
    name: 'hysteresis: one pass keeps it open, a failure restarts the passes, 2 passes in a row resolve',
    phases: [{ n: 3, values: FAIL }, { n: 1, values: PASS }, { n: 2, values: (i) => (i === 0 ? FAIL : PASS) }, { n: 1, values: PASS }],
    expected: ['major', 'major', 'major', 'resolved'],
  },
  { name: 'the severity is configured: critical', tweak: { checks: { severity: 'critical' } }, phases: [{ n: 3, values: FAIL }], expected: ['critical'] },
  { name: 'the severity is configured: minor', tweak: { checks: { severity: 'minor' } }, phases: [{ n: 3, values: FAIL }], expected: ['minor'] },
  { name: 'failAfter 1 (config) opens on the first failure', tweak: { checks: { failAfter: 1 } }, phases: [{ n: 1, values: FAIL }], expected: ['major'] },
  {
    name: 'passAfter 5 (config) needs 5 passes to resolve',
    tweak: { checks: { passAfter: 5 } },
    phases: [{ n: 3, values: FAIL }, { n: 4, values: PASS }, { n: 1, values: PASS }],
    expected: ['major', 'major', 'resolved'],
  },
  { name: 'checks disabled (config) open nothing', tweak: { checks: { enabled: false } }, phases: [{ n: 10, values: FAIL }], expected: ['none'] },
  {
    name: 'checks are independent: a passing check next to a failing one opens nothing',
    key: 'check.cache',
    phases: [{ n: 10, values: { checks: [{ name: 'db', ok: false }, { name: 'cache', ok: true }] } }],
    expected: ['none'],
  },
  {
    name: 'samples without the check neither count nor break the run',
    phases: [{ n: 5, values: (i) => (i % 2 === 0 ? FAIL : { cpu: 0.1 }) }],
    expected: ['major'],
  },
  {
    name: 'a firing check that is no longer reported resolves after maxGapMs',
    phases: [{ n: 3, values: FAIL }, { n: 60, values: { cpu: 0.1 } }, { n: 1, values: { cpu: 0.1 } }],
    expected: ['major', 'major', 'resolved'],
  },
];

describe('custom check rule (through evaluateMetrics)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(levels(feed(configWith(c.tweak), c.phases), c.key ?? DB)).toEqual(c.expected);
  });

  it('a silence longer than maxGapMs restarts the failure count', () => {
    const config = DEFAULT_RULE_CONFIG;
    const first = evaluateMetrics(undefined, [sample(1 * SECOND, FAIL), sample(2 * SECOND, FAIL)], config, T0 + 2 * SECOND);
    const late = evaluateMetrics(first.state, [sample(63 * SECOND, FAIL)], config, T0 + 63 * SECOND);
    expect(levels([late.signals], DB)).toEqual(['none']);
    const onTime = evaluateMetrics(
      evaluateMetrics(undefined, [sample(1 * SECOND, FAIL), sample(2 * SECOND, FAIL)], config, T0 + 2 * SECOND).state,
      [sample(60 * SECOND, FAIL)],
      config,
      T0 + 60 * SECOND,
    );
    expect(levels([onTime.signals], DB)).toEqual(['major']);
  });

  it('evidence names the check, the failures in a row and the latest detail', () => {
    const [signals] = feed(DEFAULT_RULE_CONFIG, [{ n: 4, values: (i) => db(false, `timeout #${i}`) }]);
    expect(signals.find((s) => s.key === DB)).toEqual({
      kind: 'check_failed',
      key: DB,
      firing: true,
      severity: 'major',
      signalAt: T0 + 3 * SECOND,
      evidence: { check: 'db', consecutiveFailures: 4, detail: 'timeout #3' },
    });
  });

  it('a check no longer reported resolves with that reason, at the first sample more than maxGapMs after it was last seen', () => {
    const batches = feed(DEFAULT_RULE_CONFIG, [{ n: 3, values: FAIL }, { n: 90, values: { cpu: 0.1 } }]);
    expect(batches[1].find((s) => s.key === DB)).toMatchObject({ firing: false, signalAt: T0 + 64 * SECOND, evidence: { check: 'db', reason: 'no longer reported' } });
  });

  it('how the samples were batched does not change what a check that went quiet does', () => {
    // Failing (open), 70 s without the check, failing again: the check went quiet for longer than maxGapMs.
    const stream = [
      ...[1, 2, 3].map((s) => sample(s * SECOND, FAIL)),
      ...Array.from({ length: 70 }, (_, i) => sample((4 + i) * SECOND, { cpu: 0.1 })),
      sample(74 * SECOND, FAIL),
    ];
    const inOne = evaluateMetrics(undefined, stream, DEFAULT_RULE_CONFIG, T0 + 74 * SECOND);
    const first = evaluateMetrics(undefined, stream.slice(0, 70), DEFAULT_RULE_CONFIG, T0 + 70 * SECOND);
    const inTwo = evaluateMetrics(first.state, stream.slice(70), DEFAULT_RULE_CONFIG, T0 + 74 * SECOND);
    const resolvedAt = T0 + 64 * SECOND;
    expect(first.signals.find((s) => s.key === DB)).toMatchObject({ firing: false, signalAt: resolvedAt });
    // One failure after the resolve is not three in a row: nothing is firing, in either batching.
    expect(inTwo.signals.find((s) => s.key === DB)).toBeUndefined();
    expect(inOne.signals.find((s) => s.key === DB)).toMatchObject({ firing: false, signalAt: resolvedAt });
  });

  it(`tracks at most ${MAX_TRACKED_CHECKS} checks: a new one takes the slot of a quiet one, never of a firing one`, () => {
    const names = Array.from({ length: MAX_TRACKED_CHECKS }, (_, i) => `c${i}`);
    const fail = (list: string[]): Fields => ({ checks: list.map((name) => ({ name, ok: false })) });
    // Every slot holds a firing check: a 17th failing check cannot be tracked.
    const full = feed(DEFAULT_RULE_CONFIG, [{ n: 3, values: fail(names) }, { n: 3, values: fail(['extra']) }]);
    expect(full[1].filter((s) => s.firing)).toHaveLength(MAX_TRACKED_CHECKS);
    expect(full[1].find((s) => s.key === 'check.extra')).toBeUndefined();
    // One of them resolved (quiet): the new check takes its slot and opens.
    const freed = feed(DEFAULT_RULE_CONFIG, [
      { n: 3, values: fail(names) },
      { n: 2, values: { checks: [{ name: 'c0', ok: true }] } },
      { n: 3, values: fail(['extra']) },
    ]);
    expect(levels(freed, 'check.extra')).toEqual(['none', 'none', 'major']);
  });
});
