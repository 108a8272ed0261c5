import type { IncidentKind, IncidentSeverity } from '@autoheal/contracts';

/**
 * The level of one rule for one instance after a batch of samples. `firing` is a level, not an
 * edge: it stays true while the open condition (with hysteresis) holds and turns false once the
 * resolve condition holds. The caller turns level changes into incident opens and resolves.
 */
export interface RuleSignal {
  kind: IncidentKind;
  /** Distinguishes signals of one kind on one instance: 'latency', 'saturation.memory', 'check.db'. */
  key: string;
  firing: boolean;
  severity: IncidentSeverity;
  /**
   * Epoch ms (sample time, never later than `now`) when the current level began: for a firing
   * signal the sample that satisfied the open condition, for a resolved one the sample that
   * satisfied the resolve condition.
   */
  signalAt: number;
  /** The values that decided it; a handful of fields, never the raw batch. */
  evidence: Record<string, unknown>;
}

/**
 * Everything the rules remember about one instance. Plain numbers in fixed-size arrays (no
 * nested objects per rule) so that 100,000 instances fit in memory and the state survives
 * `JSON.stringify`/`JSON.parse` unchanged for snapshots. Sentinel for "unset" is -1, never NaN.
 * The layout is private to the rules; `v` guards against reading a snapshot of another layout.
 */
export interface InstanceRuleState {
  /** Layout version. */
  v: number;
  /** Sample time (epoch ms) of the newest sample applied; older or equal samples are ignored. */
  at: number;
  /** Threshold rules: THRESHOLD_STRIDE numbers per rule, in THRESHOLD_RULES order. */
  th: number[];
  /** Anomaly baselines: ANOMALY_STRIDE numbers per metric, in ANOMALY_METRICS order. */
  an: number[];
  /** SLO burn: per distinct window a ring of request/error buckets, then the alert levels. */
  slo: number[];
  /** Trend fits: TREND_STRIDE numbers per metric, in TREND_METRICS order. */
  tr: number[];
  /** Names of the custom checks tracked (at most MAX_TRACKED_CHECKS). */
  ckNames: string[];
  /** CHECK_STRIDE numbers per tracked check, aligned with `ckNames`. */
  ck: number[];
}

/** How a threshold must hold before it opens (and the resolve threshold before it resolves). */
export type ThresholdMode = 'for' | 'm_of_n';

/**
 * A static threshold with hysteresis: opens at `open` or above, resolves at `resolve` or below;
 * values in between keep the current level. Severity: `critical` at or above `critical`, `major`
 * at or above `major`, otherwise `minor`.
 */
export interface ThresholdRuleConfig {
  enabled: boolean;
  open: number;
  resolve: number;
  major: number;
  critical: number;
  /** 'for': the condition holds on every sample for `forMs` (resolve: `resolveForMs`); 'm_of_n': on `m` of the last `n` samples. */
  mode: ThresholdMode;
  forMs: number;
  resolveForMs: number;
  m: number;
  n: number;
}

export type LatencyPercentile = 'p50' | 'p90' | 'p99';

export interface AnomalyMetricConfig {
  enabled: boolean;
  /** Floor of the spread in the metric's unit, so a perfectly flat baseline does not make noise anomalous. */
  minSpread: number;
}

export interface SloBurnAlertConfig {
  longWindowMs: number;
  shortWindowMs: number;
  /** Opens when both windows burn the error budget at least this many times faster than allowed. */
  burnRate: number;
  severity: 'critical' | 'major' | 'minor';
}

export interface TrendMetricConfig {
  enabled: boolean;
  /** The ratio whose projected crossing is predicted. */
  threshold: number;
}

/** Every threshold, window and toggle of the rules; see README.md for the defaults and why. */
export interface RuleConfig {
  /** A silence longer than this between samples restarts every "for" run, M-of-N window and streak. */
  maxGapMs: number;
  /** Samples stamped further than this in the future (producer clock) are ignored. */
  maxClockSkewMs: number;
  errorRate: ThresholdRuleConfig & { minRequests: number };
  latency: ThresholdRuleConfig & { percentile: LatencyPercentile; minRequests: number };
  saturation: {
    cpu: ThresholdRuleConfig;
    memory: ThresholdRuleConfig;
    eventLoopLag: ThresholdRuleConfig;
    disk: ThresholdRuleConfig;
  };
  anomaly: {
    enabled: boolean;
    /** EWMA weight of a new sample (after warm-up; during warm-up the mean is a plain average). */
    alpha: number;
    /** Opens when value > mean + k·spread for `consecutive` samples. */
    k: number;
    consecutive: number;
    /** Resolves when value ≤ mean + resolveK·spread for `resolveConsecutive` samples. */
    resolveK: number;
    resolveConsecutive: number;
    majorK: number;
    criticalK: number;
    /** Samples learned before the rule may fire. */
    warmupSamples: number;
    /** Spread floor relative to the mean, so a jump must also be large relative to the level. */
    minRelativeSpread: number;
    /** An anomaly that lasts this long is the new normal: the baseline restarts and the signal resolves. */
    relearnAfterMs: number;
    /** Do not open an anomaly for a metric whose static threshold rule is already firing (one incident per fault). */
    suppressWhenThresholdFiring: boolean;
    metrics: {
      latency: AnomalyMetricConfig;
      errorRate: AnomalyMetricConfig;
      eventLoopLag: AnomalyMetricConfig;
      cpu: AnomalyMetricConfig;
    };
  };
  slo: {
    enabled: boolean;
    /** Availability target, e.g. 0.999: the error budget is 1 - target. */
    target: number;
    /** A window with fewer requests than this burns nothing (too little traffic to judge). */
    minRequests: number;
    /** A firing alert resolves once its short window burns below burnRate × resolveRatio. */
    resolveRatio: number;
    alerts: SloBurnAlertConfig[];
  };
  trend: {
    enabled: boolean;
    /** Time constant of the exponentially weighted least-squares fit. */
    windowMs: number;
    /** Opens when the projected crossing is at most this far ahead… */
    horizonMs: number;
    /** …and resolves when it is further than this (or the fit is gone). */
    resolveHorizonMs: number;
    minR2: number;
    resolveR2: number;
    minSamples: number;
    /** The fit must span at least this long before it can predict. */
    minSpanMs: number;
    /** Samples in a row that must satisfy the open condition. */
    consecutive: number;
    metrics: { memory: TrendMetricConfig; disk: TrendMetricConfig };
  };
  checks: {
    enabled: boolean;
    failAfter: number;
    passAfter: number;
    severity: 'critical' | 'major' | 'minor';
  };
}

/** A partial override: nested objects merge key by key, arrays replace. */
export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

export type RuleConfigOverride = DeepPartial<RuleConfig>;

/** A planned window in which nothing opens for the tenant (or one service, or one instance). */
export interface MaintenanceWindow {
  service?: string;
  instance?: string;
  /** ISO 8601. */
  from: string;
  to: string;
  reason: string;
}

export interface TenantRules {
  defaults?: RuleConfigOverride;
  services?: Record<string, RuleConfigOverride>;
  maintenance?: MaintenanceWindow[];
}

/** The rules file: built-in defaults ← file defaults ← tenant defaults ← service overrides. */
export interface RulesFile {
  defaults?: RuleConfigOverride;
  tenants?: Record<string, TenantRules>;
}
