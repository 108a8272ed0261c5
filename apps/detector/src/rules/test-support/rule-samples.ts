// Builders shared by the rule specs (excluded from the build).
import type { MetricSample } from '@autoheal/contracts';
import { evaluateMetrics } from '../evaluate-metrics.js';
import { DEFAULT_RULE_CONFIG, resolveRuleConfig } from '../rule-config.js';
import type { InstanceRuleState, RuleConfig, RuleConfigOverride, RuleSignal } from '../rule.types.js';

// Time is the samples' own `at` (T0 + offset) and the `now` handed to evaluateMetrics: no wall clock.
export const T0 = Date.parse('2026-03-01T00:00:00.000Z');
export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

export type Fields = Omit<MetricSample, 'at' | 'windowMs'>;

/** A sample `offsetMs` after T0 that covers `windowMs` (one second unless said). */
export const sample = (offsetMs: number, fields: Fields, windowMs = SECOND): MetricSample => ({ at: new Date(T0 + offsetMs).toISOString(), windowMs, ...fields });

/** The built-in defaults, or those with `tweak` as the file defaults (resolved for acme.api). */
export const configWith = (tweak?: RuleConfigOverride): RuleConfig => (tweak ? resolveRuleConfig({ defaults: tweak }, 'acme', 'api') : DEFAULT_RULE_CONFIG);

/**
 * A run of `n` samples `every` ms apart (one window unless said; after an extra `gap` before the
 * first), continuing the timeline. `values` may depend on the sample's index in the run or its offset from T0.
 */
export interface Phase {
  n: number;
  every?: number;
  gap?: number;
  values: Fields | ((i: number, offsetMs: number) => Fields);
}

/**
 * Feeds each phase as one batch (now = its last sample) and returns every batch's signals.
 * Every sample covers `windowMs`, which is also how far apart they are unless a phase says `every`.
 */
export function feed(config: RuleConfig, phases: Phase[], state?: InstanceRuleState, windowMs = SECOND): RuleSignal[][] {
  let t = 0;
  return phases.map((phase) => {
    const samples: MetricSample[] = [];
    t += phase.gap ?? 0;
    for (let i = 0; i < phase.n; i++) {
      t += phase.every ?? windowMs;
      samples.push(sample(t, typeof phase.values === 'function' ? phase.values(i, t) : phase.values, windowMs));
    }
    const result = evaluateMetrics(state, samples, config, T0 + t);
    state = result.state;
    return result.signals;
  });
}

/** Per batch, the level of one rule: 'none', its severity while firing, or 'resolved'. */
export const levels = (batches: RuleSignal[][], key: string): string[] =>
  batches.map((signals) => {
    const s = signals.find((x) => x.key === key);
    return s === undefined ? 'none' : s.firing ? s.severity : 'resolved';
  });

/** One row of a rule's table: from the defaults with `tweak`, the `phases` give one level per batch of the rule `key`. */
export interface Case<P = Phase> {
  name: string;
  key?: string;
  tweak?: RuleConfigOverride;
  phases: P[];
  expected: string[];
}
