import type { ProfileThresholds } from './compliance-presets.js';
import { GuardrailRule } from './guardrails.js';

/**
 * The guardrails that pace healing rather than forbid it: a slot on the service frees when a
 * remediation ends, a cooldown ends at a known time. An incident refused by these alone waits
 * (is deferred) instead of going to a human. Every other refusal keeps escalating.
 */
export const PACING_RULES: readonly GuardrailRule[] = [GuardrailRule.ServiceConcurrency, GuardrailRule.Cooldown];

export interface DeferralInput {
  /** Only an instance-level incident names a target that a later decision could act on. */
  scope: 'instance' | 'service';
  /**
   * The refusals of a decision that would escalate. `overBudget`: an automatic action while the
   * tenant's hourly budget is spent, so the hourly cap (looked at after the pacing rules) would
   * refuse it next.
   */
  refusals: readonly { rule: GuardrailRule; overBudget?: boolean }[];
  /** Epoch ms. */
  now: number;
  /** End of the target's cooldown (epoch ms; Infinity once the backoff overflows), null without one. */
  cooldownUntil: number | null;
  /** When the incident was first deferred (epoch ms); absent on its first decision. */
  since?: number;
  /** How soon a decision refused by the concurrency cap is taken again, at the latest. */
  recheckMs: number;
  /** How long an incident may stay deferred (see deferralLimitMs). */
  limitMs: number;
}

export type DeferralVerdict =
  /** Some refusal is not a pacing one (or there is none, or no instance to act on): escalate as before. */
  | { kind: 'escalate'; why?: string }
  | { kind: 'defer'; retryAt: number; since: number; escalateAt: number }
  /** Deferrable, but it has waited, or would have to wait, past its limit. */
  | { kind: 'waited_too_long'; since: number; escalateAt: number; why: string };

/**
 * How long an incident may stay deferred: half the tenant's maximum time to remediate, so that a
 * human paged then still has the other half to act before the compliance deadline.
 */
export function deferralLimitMs(profile: Pick<ProfileThresholds, 'maxTimeToRemediateMs'>): number {
  return Math.floor(profile.maxTimeToRemediateMs / 2);
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Whether a decision that would escalate waits instead, and until when. Deferred when the incident
 * is instance-level, every refusal is a pacing one, and the spent hourly budget does not stand
 * behind every one of them (an approval is not counted against it); the decision is taken again at the end of
 * the cooldown when the cooldown refused, else after `recheckMs` (capped at the limit). Once
 * `limitMs` has passed since the first deferral, or when the cooldown ends after it (or never), it
 * escalates.
 */
export function deferral(input: DeferralInput): DeferralVerdict {
  const { scope, refusals, now, cooldownUntil, recheckMs, limitMs } = input;
  if (scope !== 'instance' || refusals.length === 0 || !refusals.every((r) => PACING_RULES.includes(r.rule))) return { kind: 'escalate' };
  // Waiting helps only a candidate that something after the pace would let through.
  if (refusals.every((r) => r.overBudget === true)) {
    return { kind: 'escalate', why: `waiting would not help: the hourly budget of automatic actions is spent too (${GuardrailRule.HourlyCap})` };
  }
  const since = input.since ?? now;
  const escalateAt = since + limitMs;
  const limit = `the limit of ${Math.round(limitMs / 1000)}s (half the maximum time to remediate)`;
  if (now >= escalateAt) {
    return { kind: 'waited_too_long', since, escalateAt, why: `waited too long: deferred since ${iso(since)} for ${Math.round((now - since) / 1000)}s, ${limit} has passed` };
  }
  // The cooldown is per target, so when it refused one candidate it refused every one that got that far.
  if (refusals.some((r) => r.rule === GuardrailRule.Cooldown) && cooldownUntil !== null) {
    if (!Number.isFinite(cooldownUntil)) return { kind: 'waited_too_long', since, escalateAt, why: 'would wait too long: the cooldown backoff has no end' };
    if (cooldownUntil > escalateAt) {
      return { kind: 'waited_too_long', since, escalateAt, why: `would wait too long: the cooldown ends at ${iso(cooldownUntil)}, past ${limit} from ${iso(since)}` };
    }
    return { kind: 'defer', retryAt: cooldownUntil, since, escalateAt };
  }
  return { kind: 'defer', retryAt: Math.min(now + recheckMs, escalateAt), since, escalateAt };
}
