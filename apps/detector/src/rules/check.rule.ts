import type { RuleConfig } from './rule.types.js';
import { FIRING, Transition } from './rule-state.js';

/**
 * Named custom checks reported by the instance: N failures in a row open `check.<name>`, M
 * passes in a row resolve it. 5 numbers per check, aligned with the names array:
 *   [fails, passes, flags, signalAt, lastSeen]
 */
export const CHECK_STRIDE = 5;
/** A sample may carry 32 checks; an instance keeps at most this many (least recently seen quiet ones make room). */
export const MAX_TRACKED_CHECKS = 16;
const FAILS = 0;
const PASSES = 1;
const FLAGS = 2;
const SIGNAL_AT = 3;
const LAST_SEEN = 4;

/**
 * The slot of a check, creating it if there is room (or a quiet check not seen at `t` to evict);
 * -1 when every slot holds a firing check.
 */
export function checkSlot(names: string[], s: number[], name: string, t: number): number {
  const found = names.indexOf(name);
  if (found >= 0) return found;
  let slot = names.length;
  if (slot >= MAX_TRACKED_CHECKS) {
    slot = -1;
    let oldest = Infinity;
    for (let i = 0; i < names.length; i++) {
      const o = i * CHECK_STRIDE;
      if ((s[o + FLAGS] & FIRING) === 0 && s[o + LAST_SEEN] < t && s[o + LAST_SEEN] < oldest) {
        oldest = s[o + LAST_SEEN];
        slot = i;
      }
    }
    if (slot < 0) return -1;
  }
  names[slot] = name;
  const o = slot * CHECK_STRIDE;
  s[o + FAILS] = 0;
  s[o + PASSES] = 0;
  s[o + FLAGS] = 0;
  s[o + SIGNAL_AT] = -1;
  s[o + LAST_SEEN] = t;
  return slot;
}

export function checkFiring(s: number[], slot: number): boolean {
  return (s[slot * CHECK_STRIDE + FLAGS] & FIRING) !== 0;
}

export function stepCheck(s: number[], slot: number, cfg: RuleConfig['checks'], t: number, ok: boolean): Transition {
  const o = slot * CHECK_STRIDE;
  s[o + LAST_SEEN] = t;
  const firing = (s[o + FLAGS] & FIRING) !== 0;
  if (ok) {
    s[o + FAILS] = 0;
    s[o + PASSES] = Math.min(s[o + PASSES] + 1, cfg.passAfter);
    if (!firing || s[o + PASSES] < cfg.passAfter) return Transition.None;
    s[o + FLAGS] = 0;
    s[o + SIGNAL_AT] = t;
    return Transition.Resolved;
  }
  s[o + PASSES] = 0;
  s[o + FAILS] = Math.min(s[o + FAILS] + 1, 1_000_000);
  if (firing || s[o + FAILS] < cfg.failAfter) return Transition.None;
  s[o + FLAGS] = FIRING;
  s[o + SIGNAL_AT] = t;
  return Transition.Opened;
}

/** Level off without a passing sample: the check stopped being reported, or checks were disabled. */
export function forceResolveCheck(s: number[], slot: number, t: number): void {
  const o = slot * CHECK_STRIDE;
  s[o + FLAGS] = 0;
  s[o + FAILS] = 0;
  s[o + PASSES] = 0;
  s[o + SIGNAL_AT] = t;
}

export function restartCheckRuns(s: number[], count: number): void {
  for (let i = 0; i < count; i++) {
    s[i * CHECK_STRIDE + FAILS] = 0;
    s[i * CHECK_STRIDE + PASSES] = 0;
  }
}

export function checkSignalAt(s: number[], slot: number): number {
  return s[slot * CHECK_STRIDE + SIGNAL_AT];
}

export function checkLastSeen(s: number[], slot: number): number {
  return s[slot * CHECK_STRIDE + LAST_SEEN];
}

export function checkFailures(s: number[], slot: number): number {
  return s[slot * CHECK_STRIDE + FAILS];
}
