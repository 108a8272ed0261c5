import type { MetricSample } from '@autoheal/contracts';
import { evaluateMetrics } from './evaluate-metrics.js';
import { DEFAULT_RULE_CONFIG } from './rule-config.js';
import type { InstanceRuleState, RuleConfig, RuleConfigOverride, RuleSignal } from './rule.types.js';
import { configWith, HOUR, MINUTE, sample, SECOND, T0, type Fields } from './test-support/rule-samples.js';

/** `n` samples one second apart, the first at `fromS` seconds. */
const seconds = (fromS: number, n: number, fields: Fields | ((s: number) => Fields)): MetricSample[] =>
  Array.from({ length: n }, (_, i) => sample((fromS + i) * SECOND, typeof fields === 'function' ? fields(fromS + i) : fields));

const lastAt = (samples: readonly MetricSample[]): number => Date.parse(samples[samples.length - 1].at);
const errors = (rate: number): Fields => ({ requests: 1000, errors: Math.round(rate * 1000) });
/** Event-loop lag: 3 of 5 samples ≥ 200 ms open (major ≥ 500), 3 of 5 ≤ 100 ms resolve; no other rule reads it by default but its anomaly. */
const lag = (ms: number): Fields => ({ eventLoopLagMs: ms });
const LAG = 'saturation.event_loop_lag';
const firing = (signals: RuleSignal[]): string[] => signals.filter((s) => s.firing).map((s) => `${s.key}:${s.severity}`);

/**
 * Four minutes of one instance in which every rule opens and most resolve: CPU and error rate,
 * a latency anomaly, SLO burn, a memory leak (predicted) and a failing check. Each rule resolves
 * at most once, so every batching reports the same resolves.
 */
function busyInstance(): MetricSample[] {
  return seconds(1, 240, (s) => ({
    ...errors(s >= 100 && s < 130 ? 0.08 : 0),
    latencyMs: { p50: 20, p99: s >= 80 && s < 90 ? 400 : 100 },
    cpu: s >= 20 && s < 70 ? 0.95 : 0.3,
    memoryBytes: Math.round((0.6 + s * 0.0005) * 1e9),
    memoryLimitBytes: 1e9,
    checks: [{ name: 'db', ok: !(s >= 150 && s < 160) }],
  }));
}

/** Feeds the samples in batches of `size` (now = each batch's last sample), optionally through a JSON snapshot in between. */
function inBatches(samples: MetricSample[], size: number, config: RuleConfig, snapshot = false): RuleSignal[][] {
  let state: InstanceRuleState | undefined;
  const out: RuleSignal[][] = [];
  for (let i = 0; i < samples.length; i += size) {
    const batch = samples.slice(i, i + size);
    const result = evaluateMetrics(snapshot && state ? (JSON.parse(JSON.stringify(state)) as InstanceRuleState) : state, batch, config, lastAt(batch));
    state = result.state;
    out.push(result.signals);
  }
  return out;
}

const resolves = (batches: RuleSignal[][]): string[] =>
  batches
    .flat()
    .filter((s) => !s.firing)
    .map((s) => `${s.key}@${(s.signalAt - T0) / SECOND}`)
    .sort();

describe('evaluateMetrics', () => {
  describe('the busy instance: every rule at work', () => {
    const stream = busyInstance();
    const oneByOne = inBatches(stream, 1, DEFAULT_RULE_CONFIG);

    it('opens and resolves what the samples say', () => {
      expect(resolves(oneByOne)).toEqual(['anomaly.latency@94', 'check.db@161', 'error_rate@132', 'saturation.cpu@80']);
      const everFiring = new Set(oneByOne.flat().filter((s) => s.firing).map((s) => s.key));
      expect([...everFiring].sort()).toEqual(['anomaly.latency', 'check.db', 'error_rate', 'predicted.memory', 'saturation.cpu', 'slo.availability']);
    });

    it.each([
      ['batches of 7', 7],
      ['batches of 100', 100],
      ['one batch', 240],
    ])('%s end in the same levels and report the same resolves as one sample at a time', (_name, size) => {
      const batched = inBatches(stream, size, DEFAULT_RULE_CONFIG);
      const stillFiring = (batches: RuleSignal[][]) => batches[batches.length - 1].filter((s) => s.firing);
      expect(stillFiring(batched)).toEqual(stillFiring(oneByOne));
      expect(resolves(batched)).toEqual(resolves(oneByOne));
    });

    it('state that went through a JSON snapshot between batches gives the same signals', () => {
      expect(inBatches(stream, 7, DEFAULT_RULE_CONFIG, true)).toEqual(inBatches(stream, 7, DEFAULT_RULE_CONFIG));
    });
  });

  it('a redelivered batch changes nothing: every sample ignored, the same levels', () => {
    const batch = seconds(1, 3, lag(600));
    const first = evaluateMetrics(undefined, batch, DEFAULT_RULE_CONFIG, lastAt(batch));
    const again = evaluateMetrics(first.state, batch, DEFAULT_RULE_CONFIG, lastAt(batch) + 5 * SECOND);
    expect(first.signals).toEqual([expect.objectContaining({ key: LAG, firing: true, severity: 'major', signalAt: T0 + 3 * SECOND })]);
    expect(again.ignored).toBe(3);
    expect(again.signals).toEqual(first.signals);
  });

  it.each<[string, MetricSample[], number, number, string[]]>([
    // name, batch (after 2 samples at 1 s and 2 s were applied), now, ignored, firing after
    ['a newer sample counts', seconds(3, 1, lag(600)), T0 + 3 * SECOND, 0, [`${LAG}:major`]],
    ['a sample at the time of the newest applied one is ignored', seconds(2, 1, lag(600)), T0 + 3 * SECOND, 1, []],
    ['an older sample is ignored', seconds(1, 1, lag(600)), T0 + 3 * SECOND, 1, []],
    ['out of order inside a batch: the older one is ignored', [sample(4 * SECOND, lag(0)), sample(3 * SECOND, lag(600))], T0 + 4 * SECOND, 1, []],
    ['a sample up to maxClockSkewMs ahead of now counts', seconds(3, 1, lag(600)), T0 + 3 * SECOND - 5 * MINUTE, 0, [`${LAG}:major`]],
    ['a sample further ahead than maxClockSkewMs is ignored', seconds(3, 1, lag(600)), T0 + 3 * SECOND - 5 * MINUTE - 1, 1, []],
  ])('%s', (_name, batch, now, ignored, expected) => {
    const before = evaluateMetrics(undefined, seconds(1, 2, lag(600)), DEFAULT_RULE_CONFIG, T0 + 2 * SECOND).state;
    const result = evaluateMetrics(before, batch, DEFAULT_RULE_CONFIG, now);
    expect(result.ignored).toBe(ignored);
    expect(firing(result.signals)).toEqual(expected);
  });

  it('a skewed sample never dates a signal after now', () => {
    const batch = seconds(61, 3, lag(600));
    const { signals } = evaluateMetrics(undefined, batch, DEFAULT_RULE_CONFIG, T0);
    expect(signals).toEqual([expect.objectContaining({ key: LAG, firing: true, signalAt: T0 })]);
  });

  it('a rule that opens and resolves within one batch reports the resolve', () => {
    const batch = [...seconds(1, 3, { checks: [{ name: 'db', ok: false }] }), ...seconds(4, 2, { checks: [{ name: 'db', ok: true }] })];
    const { signals } = evaluateMetrics(undefined, batch, DEFAULT_RULE_CONFIG, lastAt(batch));
    expect(signals).toEqual([expect.objectContaining({ kind: 'check_failed', key: 'check.db', firing: false, signalAt: T0 + 5 * SECOND })]);
  });

  it('a rule that resolves and opens again within one batch reports only that it fires', () => {
    const batch = [...seconds(1, 3, lag(600)), ...seconds(4, 3, lag(50)), ...seconds(7, 3, lag(250))];
    const { signals } = evaluateMetrics(undefined, batch, DEFAULT_RULE_CONFIG, lastAt(batch));
    expect(signals).toEqual([expect.objectContaining({ key: LAG, firing: true, severity: 'minor', signalAt: T0 + 9 * SECOND })]);
  });

  it.each<[string, unknown]>([
    ['another layout version', { v: 0, at: 5, th: [1, 2, 3], an: [], slo: [], tr: [], ckNames: ['x'], ck: [1] }],
    ['arrays of the wrong length', { v: 1, at: T0, th: [1], an: [7], slo: [1, 2, 3], tr: [3], ckNames: ['db'], ck: [] }],
  ])('a snapshot with %s is not misread: the rules start afresh', (_name, snapshot) => {
    const batch = seconds(1, 2, { ...lag(600), checks: [{ name: 'db', ok: false }] });
    const { signals, state } = evaluateMetrics(snapshot as InstanceRuleState, batch, DEFAULT_RULE_CONFIG, lastAt(batch));
    expect(signals).toEqual([]);
    // And carries on like a fresh state.
    const next = evaluateMetrics(state, seconds(3, 1, { ...lag(600), checks: [{ name: 'db', ok: false }] }), DEFAULT_RULE_CONFIG, T0 + 3 * SECOND);
    expect(firing(next.signals)).toEqual([`${LAG}:major`, 'check.db:major']);
  });

  describe('a rule switched off by configuration while firing resolves at once', () => {
    const latency = (ms: number): Fields => ({ requests: 100, latencyMs: { p50: 10, p99: ms } });
    const memory = (s: number): Fields => ({ memoryBytes: Math.round((0.5 + (s / 60) * 0.01) * 1e9), memoryLimitBytes: 1e9 });
    it.each<[string, string, RuleConfigOverride, MetricSample[]]>([
      ['cpu threshold', 'saturation.cpu', { saturation: { cpu: { enabled: false } } }, seconds(1, 31, { cpu: 0.95 })],
      ['anomaly detection', 'anomaly.latency', { anomaly: { enabled: false } }, [...seconds(1, 60, latency(100)), ...seconds(61, 3, latency(300))]],
      ['one anomaly metric', 'anomaly.latency', { anomaly: { metrics: { latency: { enabled: false } } } }, [...seconds(1, 60, latency(100)), ...seconds(61, 3, latency(300))]],
      ['SLO alerts', 'slo.availability', { slo: { enabled: false } }, seconds(1, 10, errors(0.03))],
      ['trend prediction', 'predicted.memory', { trend: { enabled: false } }, Array.from({ length: 156 }, (_, i) => sample((i + 1) * 10 * SECOND, memory((i + 1) * 10)))],
      ['custom checks', 'check.db', { checks: { enabled: false } }, seconds(1, 3, { checks: [{ name: 'db', ok: false }] })],
    ])('%s (%s)', (_name, key, off, opening) => {
      const opened = evaluateMetrics(undefined, opening, DEFAULT_RULE_CONFIG, lastAt(opening));
      expect(opened.signals.find((s) => s.key === key)?.firing).toBe(true);
      const now = lastAt(opening) + SECOND;
      const { signals } = evaluateMetrics(opened.state, [sample(now - T0, { cpu: 0.1 })], configWith(off), now);
      expect(signals.find((s) => s.key === key)).toMatchObject({ firing: false, signalAt: now, evidence: { reason: 'rule disabled' } });
    });
  });

  it('SLO windows changed by configuration while firing: the burn history restarts and the old level resolves instead of vanishing', () => {
    const opening = seconds(1, 10, errors(0.03));
    const opened = evaluateMetrics(undefined, opening, DEFAULT_RULE_CONFIG, lastAt(opening));
    expect(firing(opened.signals)).toContain('slo.availability:critical');
    const otherWindows = configWith({ slo: { alerts: [{ longWindowMs: 2 * HOUR, shortWindowMs: 10 * MINUTE, burnRate: 14.4, severity: 'critical' }] } });
    const now = lastAt(opening) + SECOND;
    const { signals } = evaluateMetrics(opened.state, [sample(now - T0, errors(0))], otherWindows, now);
    const resolved = signals.find((s) => s.key === 'slo.availability');
    expect(resolved).toMatchObject({ kind: 'slo_burn', firing: false, signalAt: now });
    expect(String(resolved?.evidence.reason)).toContain('windows changed');
  });

  it('SLO alerts emptied by configuration while firing resolve too', () => {
    const opening = seconds(1, 10, errors(0.03));
    const opened = evaluateMetrics(undefined, opening, DEFAULT_RULE_CONFIG, lastAt(opening));
    const now = lastAt(opening) + SECOND;
    const { signals } = evaluateMetrics(opened.state, [sample(now - T0, errors(0))], configWith({ slo: { alerts: [] } }), now);
    expect(signals.find((s) => s.key === 'slo.availability')).toMatchObject({ firing: false, signalAt: now });
  });

  it('SLO burn history carries over a configuration change that keeps the windows', () => {
    const opening = seconds(1, 10, errors(0.03));
    const opened = evaluateMetrics(undefined, opening, DEFAULT_RULE_CONFIG, lastAt(opening));
    const now = lastAt(opening) + SECOND;
    // Same windows, another target: the history is kept and still burns (3 % against a 99 % target is 3×).
    const looser = configWith({ slo: { target: 0.99, alerts: [{ longWindowMs: HOUR, shortWindowMs: 5 * MINUTE, burnRate: 2, severity: 'major' }] } });
    const { signals } = evaluateMetrics(opened.state, [sample(now - T0, errors(0.03))], looser, now);
    expect(firing(signals)).toContain('slo.availability:major');
  });
});
