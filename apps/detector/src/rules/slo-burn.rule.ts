import type { RuleConfig } from './rule.types.js';
import { sloWindows } from './rule-config.js';
import { round, Transition } from './rule-state.js';

/**
 * Multi-window, multi-burn-rate alerts (Google SRE workbook, ch. 5). Each distinct window keeps
 * a ring of SLOTS request/error buckets of window/(SLOTS-1) each: the current, partly filled
 * bucket plus SLOTS-1 older ones; the oldest is weighted by the share of it still inside the
 * window (the sliding-window-counter approximation: error at most one bucket's imbalance).
 * Layout per window: [windowMs, headBucket, req0, err0, …]; after all windows: [firingAlertsMask, signalAt].
 */
export const SLO_SLOTS = 5;
const WINDOW_STRIDE = 2 + 2 * SLO_SLOTS;

interface SloLayout {
  windows: number[];
  /** Per alert: index of its long and short window in `windows`. */
  longIndex: number[];
  shortIndex: number[];
  size: number;
}

const layouts = new WeakMap<RuleConfig['slo'], SloLayout>();

/** Where each window lives in the state; computed once per configuration object. */
export function sloLayout(config: RuleConfig): SloLayout {
  let layout = layouts.get(config.slo);
  if (!layout) {
    const windows = sloWindows(config);
    layout = {
      windows,
      longIndex: config.slo.alerts.map((a) => windows.indexOf(a.longWindowMs)),
      shortIndex: config.slo.alerts.map((a) => windows.indexOf(a.shortWindowMs)),
      size: windows.length * WINDOW_STRIDE + 2,
    };
    layouts.set(config.slo, layout);
  }
  return layout;
}

export function initSlo(layout: SloLayout): number[] {
  const s = new Array<number>(layout.size).fill(0);
  for (let i = 0; i < layout.windows.length; i++) {
    s[i * WINDOW_STRIDE] = layout.windows[i];
    s[i * WINDOW_STRIDE + 1] = -1;
  }
  s[layout.size - 1] = -1;
  return s;
}

function add(s: number[], base: number, windowMs: number, t: number, requests: number, errors: number): void {
  const bucketMs = windowMs / (SLO_SLOTS - 1);
  const bucket = Math.floor(t / bucketMs);
  const head = s[base + 1];
  if (head < 0 || bucket - head >= SLO_SLOTS) {
    for (let i = 0; i < SLO_SLOTS * 2; i++) s[base + 2 + i] = 0;
    s[base + 1] = bucket;
  } else if (bucket > head) {
    for (let b = head + 1; b <= bucket; b++) {
      const slot = base + 2 + (b % SLO_SLOTS) * 2;
      s[slot] = 0;
      s[slot + 1] = 0;
    }
    s[base + 1] = bucket;
  } else if (head - bucket >= SLO_SLOTS) return; // older than the ring (not expected: samples arrive in order)
  const slot = base + 2 + (bucket % SLO_SLOTS) * 2;
  s[slot] += requests;
  s[slot + 1] += errors;
}

/** Burn rate of one window at time t: (errors/requests) / (1 - target); 0 with too little traffic. */
function burn(s: number[], base: number, windowMs: number, t: number, slo: RuleConfig['slo']): number {
  const head = s[base + 1];
  if (head < 0) return 0;
  const bucketMs = windowMs / (SLO_SLOTS - 1);
  const elapsed = Math.min(Math.max((t - head * bucketMs) / bucketMs, 0), 1);
  let requests = 0;
  let errors = 0;
  for (let back = 0; back < SLO_SLOTS; back++) {
    const bucket = head - back;
    if (bucket < 0) break;
    const weight = back === SLO_SLOTS - 1 ? 1 - elapsed : 1;
    const slot = base + 2 + (bucket % SLO_SLOTS) * 2;
    requests += s[slot] * weight;
    errors += s[slot + 1] * weight;
  }
  if (requests < slo.minRequests || requests <= 0) return 0;
  return errors / requests / (1 - slo.target);
}

/** Adds one sample's counts and re-evaluates every alert. */
export function stepSlo(s: number[], layout: SloLayout, slo: RuleConfig['slo'], t: number, requests: number, errors: number): Transition {
  for (let i = 0; i < layout.windows.length; i++) add(s, i * WINDOW_STRIDE, layout.windows[i], t, requests, errors);
  const maskAt = layout.size - 2;
  const before = s[maskAt];
  // Bits of alerts no longer configured fall away.
  let mask = before & ((1 << slo.alerts.length) - 1);
  for (let a = 0; a < slo.alerts.length; a++) {
    const alert = slo.alerts[a];
    const bit = 1 << a;
    const short = burn(s, layout.shortIndex[a] * WINDOW_STRIDE, alert.shortWindowMs, t, slo);
    if ((mask & bit) === 0) {
      if (short >= alert.burnRate && burn(s, layout.longIndex[a] * WINDOW_STRIDE, alert.longWindowMs, t, slo) >= alert.burnRate) mask |= bit;
    } else if (short < alert.burnRate * slo.resolveRatio) mask &= ~bit;
  }
  s[maskAt] = mask;
  if (before === 0 && mask !== 0) {
    s[maskAt + 1] = t;
    return Transition.Opened;
  }
  if (before !== 0 && mask === 0) {
    s[maskAt + 1] = t;
    return Transition.Resolved;
  }
  return Transition.None;
}

export function sloFiring(s: number[], layout: SloLayout): boolean {
  return s[layout.size - 2] !== 0;
}

export function sloSignalAt(s: number[], layout: SloLayout): number {
  return s[layout.size - 1];
}

/** Level off without a resolving sample (SLO alerts were disabled while firing). */
export function forceResolveSlo(s: number[], layout: SloLayout, t: number): void {
  s[layout.size - 2] = 0;
  s[layout.size - 1] = t;
}

/** The most severe firing alert's severity. */
export function sloSeverity(s: number[], layout: SloLayout, slo: RuleConfig['slo']): 'critical' | 'major' | 'minor' {
  const mask = s[layout.size - 2];
  let best: 'critical' | 'major' | 'minor' = 'minor';
  for (let a = 0; a < slo.alerts.length; a++) {
    if ((mask & (1 << a)) === 0) continue;
    const severity = slo.alerts[a].severity;
    if (severity === 'critical') return severity;
    if (severity === 'major') best = severity;
  }
  return best;
}

export function sloEvidence(s: number[], layout: SloLayout, slo: RuleConfig['slo'], t: number): Record<string, unknown> {
  const mask = s[layout.size - 2];
  return {
    target: slo.target,
    alerts: slo.alerts.map((alert, a) => ({
      firing: (mask & (1 << a)) !== 0,
      burnRate: alert.burnRate,
      longWindowMs: alert.longWindowMs,
      longBurn: round(burn(s, layout.longIndex[a] * WINDOW_STRIDE, alert.longWindowMs, t, slo)),
      shortWindowMs: alert.shortWindowMs,
      shortBurn: round(burn(s, layout.shortIndex[a] * WINDOW_STRIDE, alert.shortWindowMs, t, slo)),
    })),
  };
}

/**
 * Whether a state laid out for any windows (those of an earlier configuration, say) has an alert
 * firing: the mask sits second to last in every layout. False for anything not shaped like one.
 */
export function sloStateFiring(s: readonly unknown[]): boolean {
  const mask = s[s.length - 2];
  return (s.length - 2) % WINDOW_STRIDE === 0 && s.length >= 2 && typeof mask === 'number' && mask !== 0;
}

/** True when the state's rings were laid out for this configuration's windows. */
export function sloLayoutMatches(s: number[], layout: SloLayout): boolean {
  if (s.length !== layout.size) return false;
  for (let i = 0; i < layout.windows.length; i++) if (s[i * WINDOW_STRIDE] !== layout.windows[i]) return false;
  return true;
}
