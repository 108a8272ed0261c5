import type { ThresholdRuleConfig } from './rule.types.js';
import { FIRING, gradedSeverity, isoOrNull, MODE_BIT, round, Transition, withSeverity } from './rule-state.js';

/**
 * A static threshold with hysteresis, per instance: 5 numbers.
 *   [flags, a, b, signalAt, last]
 * 'for' mode:    a = time the open condition started holding, b = time the resolve condition started (-1: not holding)
 * 'm_of_n' mode: a = bit mask of the last n samples at/above open, b = of those at/below resolve
 * MODE_BIT in flags records which mode a and b belong to; a config change of mode restarts them.
 */
export const THRESHOLD_STRIDE = 5;
const FLAGS = 0;
const A = 1;
const B = 2;
const SIGNAL_AT = 3;
const LAST = 4;

export function initThreshold(s: number[], o: number): void {
  s[o + FLAGS] = 0;
  s[o + A] = -1;
  s[o + B] = -1;
  s[o + SIGNAL_AT] = -1;
  s[o + LAST] = -1;
}

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Forget the current runs (a silence broke them); the level stays. */
export function restartThresholdRun(s: number[], o: number): void {
  const mOfN = (s[o + FLAGS] & MODE_BIT) !== 0;
  s[o + A] = mOfN ? 0 : -1;
  s[o + B] = mOfN ? 0 : -1;
}

export function thresholdFiring(s: number[], o: number): boolean {
  return (s[o + FLAGS] & FIRING) !== 0;
}

/** One sample's value at time t (epoch ms). */
export function stepThreshold(s: number[], o: number, rule: ThresholdRuleConfig, t: number, value: number): Transition {
  let flags = s[o + FLAGS];
  const mOfN = rule.mode === 'm_of_n';
  if (((flags & MODE_BIT) !== 0) !== mOfN) {
    flags = mOfN ? flags | MODE_BIT : flags & ~MODE_BIT;
    s[o + FLAGS] = flags;
    restartThresholdRun(s, o);
  }
  s[o + LAST] = value;
  const firing = (flags & FIRING) !== 0;
  const aboveOpen = value >= rule.open;
  const belowResolve = value <= rule.resolve;
  let opens = false;
  let resolves = false;
  if (mOfN) {
    const window = rule.n >= 32 ? -1 : (1 << rule.n) - 1;
    const above = ((s[o + A] << 1) | (aboveOpen ? 1 : 0)) & window;
    const below = ((s[o + B] << 1) | (belowResolve ? 1 : 0)) & window;
    s[o + A] = above;
    s[o + B] = below;
    opens = !firing && popcount(above) >= rule.m;
    resolves = firing && popcount(below) >= rule.m;
  } else if (!firing) {
    if (!aboveOpen) s[o + A] = -1;
    else {
      if (s[o + A] < 0) s[o + A] = t;
      opens = t - s[o + A] >= rule.forMs;
    }
  } else if (!belowResolve) s[o + B] = -1;
  else {
    if (s[o + B] < 0) s[o + B] = t;
    resolves = t - s[o + B] >= rule.resolveForMs;
  }

  if (opens) {
    // The resolve run must start after the open, never from samples before it.
    s[o + B] = mOfN ? 0 : -1;
    s[o + FLAGS] = withSeverity(flags | FIRING, gradedSeverity(value, rule.major, rule.critical));
    s[o + SIGNAL_AT] = t;
    return Transition.Opened;
  }
  if (resolves) {
    s[o + A] = mOfN ? 0 : -1;
    s[o + FLAGS] = withSeverity(flags & ~FIRING, 0);
    s[o + SIGNAL_AT] = t;
    return Transition.Resolved;
  }
  if (firing) s[o + FLAGS] = withSeverity(flags, gradedSeverity(value, rule.major, rule.critical));
  return Transition.None;
}

/** Level off without a resolving sample (the rule was disabled while firing). */
export function forceResolveThreshold(s: number[], o: number, t: number): void {
  s[o + FLAGS] = withSeverity(s[o + FLAGS] & ~FIRING, 0);
  s[o + SIGNAL_AT] = t;
  restartThresholdRun(s, o);
}

export function thresholdSignalAt(s: number[], o: number): number {
  return s[o + SIGNAL_AT];
}

export function thresholdFlags(s: number[], o: number): number {
  return s[o + FLAGS];
}

export function thresholdEvidence(s: number[], o: number, rule: ThresholdRuleConfig): Record<string, unknown> {
  const firing = thresholdFiring(s, o);
  return {
    value: round(s[o + LAST]),
    open: rule.open,
    resolve: rule.resolve,
    window: rule.mode === 'm_of_n' ? `${rule.m} of ${rule.n} samples` : `${firing ? rule.forMs : rule.resolveForMs} ms`,
    // In 'for' mode, when the open condition began to hold (before the duration passed).
    ...(firing && rule.mode === 'for' && s[o + A] >= 0 ? { breachSince: isoOrNull(s[o + A]) } : {}),
  };
}
