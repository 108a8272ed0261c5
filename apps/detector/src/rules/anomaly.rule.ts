import type { AnomalyMetricConfig, RuleConfig } from './rule.types.js';
import { FIRING, round, Transition, withSeverity, type SeverityCode } from './rule-state.js';

/**
 * A per-instance, per-metric baseline: an EWMA of the value and an exponentially weighted mean
 * absolute deviation as its spread (robust enough against single spikes, O(1) memory — no ring,
 * no median sort on the hot path). 7 numbers:
 *   [n, mean, dev, run, flags, signalAt, last]
 * n counts learned samples (warm-up); run counts consecutive samples meeting the pending
 * condition (open while quiet, resolve while firing).
 */
export const ANOMALY_STRIDE = 7;
const N = 0;
const MEAN = 1;
const DEV = 2;
const RUN = 3;
const FLAGS = 4;
const SIGNAL_AT = 5;
const LAST = 6;

/** Beyond this the count only says "warm"; keeps the number small. */
const N_CAP = 1_000_000;

/** A resolve caused by accepting a lasting shift as the new normal. */
export const RELEARNED = 3;
export type AnomalyTransition = Transition | typeof RELEARNED;

export function initAnomaly(s: number[], o: number): void {
  s[o + N] = 0;
  s[o + MEAN] = 0;
  s[o + DEV] = 0;
  s[o + RUN] = 0;
  s[o + FLAGS] = 0;
  s[o + SIGNAL_AT] = -1;
  s[o + LAST] = -1;
}

export function anomalyFiring(s: number[], o: number): boolean {
  return (s[o + FLAGS] & FIRING) !== 0;
}

export function restartAnomalyRun(s: number[], o: number): void {
  s[o + RUN] = 0;
}

function learn(s: number[], o: number, alpha: number, value: number): void {
  const n = Math.min(s[o + N] + 1, N_CAP);
  s[o + N] = n;
  if (n === 1) {
    s[o + MEAN] = value;
    s[o + DEV] = 0;
    return;
  }
  // During warm-up the weight is 1/n: a plain running average, not biased towards zero.
  const weight = Math.max(alpha, 1 / n);
  const diff = value - s[o + MEAN];
  s[o + MEAN] += weight * diff;
  s[o + DEV] += weight * (Math.abs(diff) - s[o + DEV]);
}

function spreadOf(s: number[], o: number, cfg: RuleConfig['anomaly'], metric: AnomalyMetricConfig): number {
  return Math.max(s[o + DEV], metric.minSpread, cfg.minRelativeSpread * Math.abs(s[o + MEAN]));
}

function severityOf(z: number, cfg: RuleConfig['anomaly']): SeverityCode {
  return z >= cfg.criticalK ? 2 : z >= cfg.majorK ? 1 : 0;
}

/**
 * One sample. `suppressed`: the metric's static threshold already fires, so a new anomaly would
 * be a second incident for the same fault; the sample is neither counted nor learned.
 */
export function stepAnomaly(
  s: number[],
  o: number,
  cfg: RuleConfig['anomaly'],
  metric: AnomalyMetricConfig,
  t: number,
  value: number,
  suppressed: boolean,
): AnomalyTransition {
  s[o + LAST] = value;
  const flags = s[o + FLAGS];
  const z = (value - s[o + MEAN]) / spreadOf(s, o, cfg, metric);
  if ((flags & FIRING) === 0) {
    const anomalous = s[o + N] >= cfg.warmupSamples && z > cfg.k;
    if (!anomalous) {
      s[o + RUN] = 0;
      learn(s, o, cfg.alpha, value);
      return Transition.None;
    }
    if (suppressed) {
      s[o + RUN] = 0;
      return Transition.None;
    }
    s[o + RUN] += 1;
    if (s[o + RUN] < cfg.consecutive) return Transition.None;
    s[o + RUN] = 0;
    s[o + FLAGS] = withSeverity(flags | FIRING, severityOf(z, cfg));
    s[o + SIGNAL_AT] = t;
    return Transition.Opened;
  }
  if (z <= cfg.resolveK) {
    learn(s, o, cfg.alpha, value);
    s[o + RUN] += 1;
    if (s[o + RUN] < cfg.resolveConsecutive) return Transition.None;
    s[o + RUN] = 0;
    s[o + FLAGS] = withSeverity(flags & ~FIRING, 0);
    s[o + SIGNAL_AT] = t;
    return Transition.Resolved;
  }
  // Still anomalous: the baseline does not learn from it, or it would chase the fault.
  s[o + RUN] = 0;
  if (t - s[o + SIGNAL_AT] >= cfg.relearnAfterMs) {
    initAnomaly(s, o);
    s[o + SIGNAL_AT] = t;
    s[o + LAST] = value;
    return RELEARNED;
  }
  s[o + FLAGS] = withSeverity(flags, severityOf(z, cfg));
  return Transition.None;
}

/** Level off without a resolving sample (the metric's rule was disabled while firing). */
export function forceResolveAnomaly(s: number[], o: number, t: number): void {
  s[o + FLAGS] = withSeverity(s[o + FLAGS] & ~FIRING, 0);
  s[o + SIGNAL_AT] = t;
  s[o + RUN] = 0;
}

export function anomalySignalAt(s: number[], o: number): number {
  return s[o + SIGNAL_AT];
}

export function anomalyFlags(s: number[], o: number): number {
  return s[o + FLAGS];
}

export function anomalyEvidence(s: number[], o: number, cfg: RuleConfig['anomaly'], metric: AnomalyMetricConfig): Record<string, unknown> {
  const spread = spreadOf(s, o, cfg, metric);
  return {
    value: round(s[o + LAST]),
    baseline: round(s[o + MEAN]),
    spread: round(spread),
    deviations: round((s[o + LAST] - s[o + MEAN]) / spread),
    k: cfg.k,
    learnedSamples: s[o + N],
  };
}
