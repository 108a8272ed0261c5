import type { RuleConfig, TrendMetricConfig } from './rule.types.js';
import { FIRING, isoOrNull, round, Transition, withSeverity, type SeverityCode } from './rule-state.js';

/**
 * A least-squares line through a metric's recent history, exponentially weighted with time
 * constant `windowMs` so it needs six running sums instead of a ring of points (O(1) per sample,
 * no re-fit over an array). x is minutes relative to the newest sample, re-based on every sample
 * so the sums stay small and precise. 12 numbers:
 *   [w, sx, sy, sxx, sxy, syy, lastT, firstT, count, run, flags, signalAt]
 */
export const TREND_STRIDE = 12;
const W = 0;
const SX = 1;
const SY = 2;
const SXX = 3;
const SXY = 4;
const SYY = 5;
const LAST_T = 6;
const FIRST_T = 7;
const COUNT = 8;
const RUN = 9;
const FLAGS = 10;
const SIGNAL_AT = 11;

const MINUTE = 60_000;
const COUNT_CAP = 1_000_000;

export function initTrend(s: number[], o: number): void {
  for (let i = 0; i < TREND_STRIDE; i++) s[o + i] = 0;
  s[o + LAST_T] = -1;
  s[o + FIRST_T] = -1;
  s[o + SIGNAL_AT] = -1;
}

/** Forget the fit (a silence made it stale); the level stays until the fit says otherwise. */
export function restartTrendFit(s: number[], o: number): void {
  for (let i = W; i <= SYY; i++) s[o + i] = 0;
  s[o + LAST_T] = -1;
  s[o + FIRST_T] = -1;
  s[o + COUNT] = 0;
  s[o + RUN] = 0;
}

export function trendFiring(s: number[], o: number): boolean {
  return (s[o + FLAGS] & FIRING) !== 0;
}

export interface TrendFit {
  /** Fitted value now (at the newest sample). */
  value: number;
  slopePerMinute: number;
  r2: number;
  /** Time from the newest sample until the line reaches the threshold: 0 if already there, Infinity if never. */
  etaMs: number;
}

/** The current fit; undefined until there is enough history (count and span) to trust one. */
export function trendFit(s: number[], o: number, cfg: RuleConfig['trend'], threshold: number): TrendFit | undefined {
  if (s[o + COUNT] < cfg.minSamples || s[o + LAST_T] - s[o + FIRST_T] < cfg.minSpanMs) return undefined;
  const w = s[o + W];
  const sx = s[o + SX];
  const sy = s[o + SY];
  const varX = w * s[o + SXX] - sx * sx;
  if (!(varX > 1e-12 * w * w)) return undefined;
  const cov = w * s[o + SXY] - sx * sy;
  const slope = cov / varX;
  const value = (sy - slope * sx) / w;
  const varY = w * s[o + SYY] - sy * sy;
  // A (numerically) flat series explains nothing: R² 0, not 0/0.
  const r2 = varY > 1e-12 * (sy * sy + 1e-12) ? Math.min((cov * cov) / (varX * varY), 1) : 0;
  const etaMs = value >= threshold ? 0 : slope > 0 ? ((threshold - value) / slope) * MINUTE : Infinity;
  return { value, slopePerMinute: slope, r2, etaMs };
}

function add(s: number[], o: number, windowMs: number, t: number, y: number): void {
  const lastT = s[o + LAST_T];
  if (lastT < 0) {
    s[o + FIRST_T] = t;
  } else {
    const dt = (t - lastT) / MINUTE;
    const decay = Math.exp(-(t - lastT) / windowMs);
    const w = s[o + W];
    const sx = s[o + SX];
    const sy = s[o + SY];
    // Move the origin to t (old points get x - dt), then age every point by the decay.
    s[o + SXX] = (s[o + SXX] - 2 * dt * sx + dt * dt * w) * decay;
    s[o + SXY] = (s[o + SXY] - dt * sy) * decay;
    s[o + SX] = (sx - dt * w) * decay;
    s[o + W] = w * decay;
    s[o + SY] = sy * decay;
    s[o + SYY] *= decay;
  }
  s[o + W] += 1;
  s[o + SY] += y;
  s[o + SYY] += y * y;
  s[o + LAST_T] = t;
  s[o + COUNT] = Math.min(s[o + COUNT] + 1, COUNT_CAP);
}

function severityOf(etaMs: number, cfg: RuleConfig['trend']): SeverityCode {
  // Already at the threshold, or within a third of the horizon: little time is left to act.
  return etaMs <= 0 ? 2 : etaMs <= cfg.horizonMs / 3 ? 1 : 0;
}

/** One sample of the metric's ratio at time t. */
export function stepTrend(s: number[], o: number, cfg: RuleConfig['trend'], metric: TrendMetricConfig, t: number, y: number): Transition {
  add(s, o, cfg.windowMs, t, y);
  const fit = trendFit(s, o, cfg, metric.threshold);
  const flags = s[o + FLAGS];
  if ((flags & FIRING) === 0) {
    const predicts = fit !== undefined && fit.slopePerMinute > 0 && fit.r2 >= cfg.minR2 && fit.etaMs <= cfg.horizonMs;
    s[o + RUN] = predicts ? s[o + RUN] + 1 : 0;
    if (!predicts || s[o + RUN] < cfg.consecutive) return Transition.None;
    s[o + RUN] = 0;
    s[o + FLAGS] = withSeverity(flags | FIRING, severityOf(fit.etaMs, cfg));
    s[o + SIGNAL_AT] = t;
    return Transition.Opened;
  }
  // Without a fit (history restarted) nothing is known: keep the level rather than guess.
  if (fit === undefined) return Transition.None;
  const gone = !(fit.slopePerMinute > 0) || fit.r2 < cfg.resolveR2 || fit.etaMs > cfg.resolveHorizonMs;
  s[o + RUN] = gone ? s[o + RUN] + 1 : 0;
  if (!gone) {
    s[o + FLAGS] = withSeverity(flags, severityOf(fit.etaMs, cfg));
    return Transition.None;
  }
  if (s[o + RUN] < cfg.consecutive) return Transition.None;
  s[o + RUN] = 0;
  s[o + FLAGS] = withSeverity(flags & ~FIRING, 0);
  s[o + SIGNAL_AT] = t;
  return Transition.Resolved;
}

/** Level off without a resolving sample (the rule was disabled while firing). */
export function forceResolveTrend(s: number[], o: number, t: number): void {
  s[o + FLAGS] = withSeverity(s[o + FLAGS] & ~FIRING, 0);
  s[o + SIGNAL_AT] = t;
  s[o + RUN] = 0;
}

export function trendSignalAt(s: number[], o: number): number {
  return s[o + SIGNAL_AT];
}

export function trendFlags(s: number[], o: number): number {
  return s[o + FLAGS];
}

export function trendEvidence(s: number[], o: number, cfg: RuleConfig['trend'], metric: TrendMetricConfig): Record<string, unknown> {
  const fit = trendFit(s, o, cfg, metric.threshold);
  if (!fit) return { threshold: metric.threshold, fit: null };
  const lastT = s[o + LAST_T];
  return {
    value: round(fit.value),
    slopePerMinute: round(fit.slopePerMinute),
    r2: round(fit.r2),
    threshold: metric.threshold,
    horizonMs: cfg.horizonMs,
    etaMs: Number.isFinite(fit.etaMs) ? Math.round(fit.etaMs) : null,
    crossingAt: Number.isFinite(fit.etaMs) ? isoOrNull(lastT + fit.etaMs) : null,
  };
}
