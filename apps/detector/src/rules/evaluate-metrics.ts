import type { IncidentKind, MetricSample } from '@autoheal/contracts';
import type { AnomalyMetricConfig, InstanceRuleState, RuleConfig, RuleSignal, ThresholdRuleConfig, TrendMetricConfig } from './rule.types.js';
import { FIRING, severityName, Transition } from './rule-state.js';
import { errorRateOf, latencyOf, memoryRatioOf } from './sample-values.js';
import {
  THRESHOLD_STRIDE,
  forceResolveThreshold,
  initThreshold,
  restartThresholdRun,
  stepThreshold,
  thresholdEvidence,
  thresholdFiring,
  thresholdFlags,
  thresholdSignalAt,
} from './threshold.rule.js';
import {
  ANOMALY_STRIDE,
  RELEARNED,
  anomalyEvidence,
  anomalyFiring,
  anomalyFlags,
  anomalySignalAt,
  forceResolveAnomaly,
  initAnomaly,
  restartAnomalyRun,
  stepAnomaly,
} from './anomaly.rule.js';
import {
  forceResolveSlo,
  initSlo,
  sloEvidence,
  sloFiring,
  sloLayout,
  sloLayoutMatches,
  sloSeverity,
  sloSignalAt,
  sloStateFiring,
  stepSlo,
} from './slo-burn.rule.js';
import { TREND_STRIDE, forceResolveTrend, initTrend, restartTrendFit, stepTrend, trendEvidence, trendFiring, trendFlags, trendSignalAt } from './trend.rule.js';
import {
  CHECK_STRIDE,
  checkFailures,
  checkFiring,
  checkLastSeen,
  checkSignalAt,
  checkSlot,
  forceResolveCheck,
  restartCheckRuns,
  stepCheck,
} from './check.rule.js';

/** Bumped whenever the state layout changes: an older snapshot restarts the rules instead of being misread. */
export const RULE_STATE_VERSION = 1;

/** Metric values of one sample, read once and shared by the rules (NaN: not in this sample). */
const Metric = { ErrorRate: 0, Latency: 1, Cpu: 2, Memory: 3, EventLoopLag: 4, Disk: 5 } as const;
const values = new Float64Array(6);

function readValues(sample: MetricSample, config: RuleConfig): void {
  values[Metric.ErrorRate] = errorRateOf(sample, config.errorRate.minRequests) ?? NaN;
  values[Metric.Latency] = latencyOf(sample, config.latency.percentile, config.latency.minRequests) ?? NaN;
  values[Metric.Cpu] = sample.cpu ?? NaN;
  values[Metric.Memory] = memoryRatioOf(sample) ?? NaN;
  values[Metric.EventLoopLag] = sample.eventLoopLagMs ?? NaN;
  values[Metric.Disk] = sample.diskUsedRatio ?? NaN;
}

/** The threshold rules, in state order; each reads the metric of the same index. */
export const THRESHOLD_RULES: readonly { key: string; kind: IncidentKind; config: (c: RuleConfig) => ThresholdRuleConfig }[] = [
  { key: 'error_rate', kind: 'error_rate', config: (c) => c.errorRate },
  { key: 'latency', kind: 'latency', config: (c) => c.latency },
  { key: 'saturation.cpu', kind: 'saturation', config: (c) => c.saturation.cpu },
  { key: 'saturation.memory', kind: 'saturation', config: (c) => c.saturation.memory },
  { key: 'saturation.event_loop_lag', kind: 'saturation', config: (c) => c.saturation.eventLoopLag },
  { key: 'saturation.disk', kind: 'saturation', config: (c) => c.saturation.disk },
];

/** Anomaly baselines, in state order: the metric read and the threshold rule that suppresses it. */
export const ANOMALY_METRICS: readonly { key: string; metric: number; config: (c: RuleConfig) => AnomalyMetricConfig }[] = [
  { key: 'anomaly.latency', metric: Metric.Latency, config: (c) => c.anomaly.metrics.latency },
  { key: 'anomaly.error_rate', metric: Metric.ErrorRate, config: (c) => c.anomaly.metrics.errorRate },
  { key: 'anomaly.event_loop_lag', metric: Metric.EventLoopLag, config: (c) => c.anomaly.metrics.eventLoopLag },
  { key: 'anomaly.cpu', metric: Metric.Cpu, config: (c) => c.anomaly.metrics.cpu },
];

/** Trend fits, in state order. */
export const TREND_METRICS: readonly { key: string; metric: number; config: (c: RuleConfig) => TrendMetricConfig }[] = [
  { key: 'predicted.memory', metric: Metric.Memory, config: (c) => c.trend.metrics.memory },
  { key: 'predicted.disk', metric: Metric.Disk, config: (c) => c.trend.metrics.disk },
];

export const SLO_KEY = 'slo.availability';

/** Per-configuration lookups, computed once per (frozen, shared) configuration object. */
interface Plan {
  thresholds: ThresholdRuleConfig[];
  anomalies: AnomalyMetricConfig[];
  trends: TrendMetricConfig[];
  slo: ReturnType<typeof sloLayout>;
  sloOn: boolean;
}
const plans = new WeakMap<RuleConfig, Plan>();

function planFor(config: RuleConfig): Plan {
  let plan = plans.get(config);
  if (!plan) {
    plan = {
      thresholds: THRESHOLD_RULES.map((r) => r.config(config)),
      anomalies: ANOMALY_METRICS.map((a) => a.config(config)),
      trends: TREND_METRICS.map((m) => m.config(config)),
      slo: sloLayout(config),
      sloOn: config.slo.enabled && config.slo.alerts.length > 0,
    };
    plans.set(config, plan);
  }
  return plan;
}

/** A fresh state for an instance seen for the first time. */
export function createRuleState(config: RuleConfig): InstanceRuleState {
  const th = new Array<number>(THRESHOLD_RULES.length * THRESHOLD_STRIDE);
  for (let i = 0; i < THRESHOLD_RULES.length; i++) initThreshold(th, i * THRESHOLD_STRIDE);
  const an = new Array<number>(ANOMALY_METRICS.length * ANOMALY_STRIDE);
  for (let i = 0; i < ANOMALY_METRICS.length; i++) initAnomaly(an, i * ANOMALY_STRIDE);
  const tr = new Array<number>(TREND_METRICS.length * TREND_STRIDE);
  for (let i = 0; i < TREND_METRICS.length; i++) initTrend(tr, i * TREND_STRIDE);
  return { v: RULE_STATE_VERSION, at: -1, th, an, slo: initSlo(sloLayout(config)), tr, ckNames: [], ck: [] };
}

/**
 * The given state if it has this layout, repaired part by part where it does not (a snapshot
 * from another version, or SLO windows changed by configuration): never misread.
 */
function usableState(state: InstanceRuleState | undefined, config: RuleConfig, plan: Plan, now: number, resolved: RuleSignal[]): InstanceRuleState {
  if (!state || state.v !== RULE_STATE_VERSION || typeof state.at !== 'number') return createRuleState(config);
  if (!Array.isArray(state.th) || state.th.length !== THRESHOLD_RULES.length * THRESHOLD_STRIDE) {
    state.th = createRuleState(config).th;
  }
  if (!Array.isArray(state.an) || state.an.length !== ANOMALY_METRICS.length * ANOMALY_STRIDE) state.an = createRuleState(config).an;
  if (!Array.isArray(state.tr) || state.tr.length !== TREND_METRICS.length * TREND_STRIDE) state.tr = createRuleState(config).tr;
  if (!Array.isArray(state.slo) || !sloLayoutMatches(state.slo, plan.slo)) {
    // The SLO windows changed (configuration): the burn history restarts. A level that was firing
    // must resolve now, as a disabled rule does; dropping it silently left its incident open with
    // nothing left to resolve it. The old alerts' severities are not known any more: 'minor'.
    if (Array.isArray(state.slo) && sloStateFiring(state.slo)) {
      resolved.push({ kind: 'slo_burn', key: SLO_KEY, firing: false, severity: 'minor', signalAt: now, evidence: { reason: 'SLO windows changed: burn history restarted' } });
    }
    state.slo = initSlo(plan.slo);
  }
  if (!Array.isArray(state.ckNames) || !Array.isArray(state.ck) || state.ck.length !== state.ckNames.length * CHECK_STRIDE) {
    state.ckNames = [];
    state.ck = [];
  }
  return state;
}

/** A silence broke every streak: "for" runs, M-of-N windows, anomaly and check streaks, trend fits. */
function restartRuns(state: InstanceRuleState): void {
  for (let i = 0; i < THRESHOLD_RULES.length; i++) restartThresholdRun(state.th, i * THRESHOLD_STRIDE);
  for (let i = 0; i < ANOMALY_METRICS.length; i++) restartAnomalyRun(state.an, i * ANOMALY_STRIDE);
  for (let i = 0; i < TREND_METRICS.length; i++) restartTrendFit(state.tr, i * TREND_STRIDE);
  restartCheckRuns(state.ck, state.ckNames.length);
}

/** Rules switched off by configuration while firing resolve now rather than stay open forever. */
function resolveDisabled(state: InstanceRuleState, config: RuleConfig, plan: Plan, now: number, resolved: RuleSignal[]): void {
  const reason = { reason: 'rule disabled' };
  for (let i = 0; i < THRESHOLD_RULES.length; i++) {
    const o = i * THRESHOLD_STRIDE;
    if (plan.thresholds[i].enabled || !thresholdFiring(state.th, o)) continue;
    const severity = severityName(thresholdFlags(state.th, o));
    forceResolveThreshold(state.th, o, now);
    resolved.push({ kind: THRESHOLD_RULES[i].kind, key: THRESHOLD_RULES[i].key, firing: false, severity, signalAt: now, evidence: reason });
  }
  for (let i = 0; i < ANOMALY_METRICS.length; i++) {
    const o = i * ANOMALY_STRIDE;
    if ((config.anomaly.enabled && plan.anomalies[i].enabled) || !anomalyFiring(state.an, o)) continue;
    const severity = severityName(anomalyFlags(state.an, o));
    forceResolveAnomaly(state.an, o, now);
    resolved.push({ kind: 'anomaly', key: ANOMALY_METRICS[i].key, firing: false, severity, signalAt: now, evidence: reason });
  }
  if (!plan.sloOn && sloFiring(state.slo, plan.slo)) {
    const severity = sloSeverity(state.slo, plan.slo, config.slo);
    forceResolveSlo(state.slo, plan.slo, now);
    resolved.push({ kind: 'slo_burn', key: SLO_KEY, firing: false, severity, signalAt: now, evidence: reason });
  }
  for (let i = 0; i < TREND_METRICS.length; i++) {
    const o = i * TREND_STRIDE;
    if ((config.trend.enabled && plan.trends[i].enabled) || !trendFiring(state.tr, o)) continue;
    const severity = severityName(trendFlags(state.tr, o));
    forceResolveTrend(state.tr, o, now);
    resolved.push({ kind: 'predicted', key: TREND_METRICS[i].key, firing: false, severity, signalAt: now, evidence: reason });
  }
  if (!config.checks.enabled) {
    for (let i = 0; i < state.ckNames.length; i++) {
      if (!checkFiring(state.ck, i)) continue;
      forceResolveCheck(state.ck, i, now);
      resolved.push({ kind: 'check_failed', key: `check.${state.ckNames[i]}`, firing: false, severity: config.checks.severity, signalAt: now, evidence: reason });
    }
  }
}

/**
 * Applies a batch of metric samples (oldest first) to one instance's rule state and reports
 * every rule that is firing after the batch, plus every rule that stopped firing during it.
 *
 * Deterministic in its inputs: no I/O, no clock (rule time is the samples' own `at`; `now` only
 * bounds producer clock skew and detection timestamps). For speed on the hot path the given
 * state is updated in place and returned; the caller owns it. Samples at or before the newest
 * one already applied are ignored, so a redelivered batch changes nothing.
 */
export function evaluateMetrics(
  state: InstanceRuleState | undefined,
  samples: readonly MetricSample[],
  config: RuleConfig,
  now: number,
): { state: InstanceRuleState; signals: RuleSignal[]; ignored: number } {
  const plan = planFor(config);
  const resolved: RuleSignal[] = [];
  const st = usableState(state, config, plan, now, resolved);
  resolveDisabled(st, config, plan, now, resolved);
  let ignored = 0;
  const anomalyOn = config.anomaly.enabled;
  const trendOn = config.trend.enabled;
  let checkDetails: (string | undefined)[] | undefined;

  for (const sample of samples) {
    const t = Date.parse(sample.at);
    if (!(t > st.at) || t > now + config.maxClockSkewMs) {
      ignored++;
      continue;
    }
    if (st.at >= 0 && t - st.at > config.maxGapMs) restartRuns(st);
    st.at = t;
    readValues(sample, config);

    for (let i = 0; i < THRESHOLD_RULES.length; i++) {
      const rule = plan.thresholds[i];
      const value = values[i];
      if (!rule.enabled || Number.isNaN(value)) continue;
      const o = i * THRESHOLD_STRIDE;
      const before = thresholdFlags(st.th, o);
      if (stepThreshold(st.th, o, rule, t, value) === Transition.Resolved) {
        const meta = THRESHOLD_RULES[i];
        resolved.push({ kind: meta.kind, key: meta.key, firing: false, severity: severityName(before), signalAt: t, evidence: thresholdEvidence(st.th, o, rule) });
      }
    }

    if (anomalyOn) {
      for (let i = 0; i < ANOMALY_METRICS.length; i++) {
        const metric = plan.anomalies[i];
        const meta = ANOMALY_METRICS[i];
        const value = values[meta.metric];
        if (!metric.enabled || Number.isNaN(value)) continue;
        const o = i * ANOMALY_STRIDE;
        const suppressed = config.anomaly.suppressWhenThresholdFiring && thresholdFiring(st.th, meta.metric * THRESHOLD_STRIDE);
        const before = anomalyFlags(st.an, o);
        const transition = stepAnomaly(st.an, o, config.anomaly, metric, t, value, suppressed);
        if (transition === Transition.Resolved || transition === RELEARNED) {
          const evidence =
            transition === RELEARNED
              ? { value, reason: `the shift lasted ${config.anomaly.relearnAfterMs} ms: accepted as the new baseline` }
              : anomalyEvidence(st.an, o, config.anomaly, metric);
          resolved.push({ kind: 'anomaly', key: meta.key, firing: false, severity: severityName(before), signalAt: t, evidence });
        }
      }
    }

    if (plan.sloOn && sample.requests !== undefined && sample.errors !== undefined) {
      const severity = sloSeverity(st.slo, plan.slo, config.slo);
      if (stepSlo(st.slo, plan.slo, config.slo, t, sample.requests, Math.min(sample.errors, sample.requests)) === Transition.Resolved) {
        resolved.push({ kind: 'slo_burn', key: SLO_KEY, firing: false, severity, signalAt: t, evidence: sloEvidence(st.slo, plan.slo, config.slo, t) });
      }
    }

    if (trendOn) {
      for (let i = 0; i < TREND_METRICS.length; i++) {
        const metric = plan.trends[i];
        const meta = TREND_METRICS[i];
        const value = values[meta.metric];
        if (!metric.enabled || Number.isNaN(value)) continue;
        const o = i * TREND_STRIDE;
        const before = trendFlags(st.tr, o);
        if (stepTrend(st.tr, o, config.trend, metric, t, value) === Transition.Resolved) {
          resolved.push({ kind: 'predicted', key: meta.key, firing: false, severity: severityName(before), signalAt: t, evidence: trendEvidence(st.tr, o, config.trend, metric) });
        }
      }
    }

    if (config.checks.enabled && sample.checks) {
      for (const check of sample.checks) {
        const slot = checkSlot(st.ckNames, st.ck, check.name, t);
        if (slot < 0) continue;
        if (check.detail !== undefined) (checkDetails ??= [])[slot] = check.detail;
        if (stepCheck(st.ck, slot, config.checks, t, check.ok) === Transition.Resolved) {
          resolved.push({ kind: 'check_failed', key: `check.${check.name}`, firing: false, severity: config.checks.severity, signalAt: t, evidence: { check: check.name, ok: true } });
        }
      }
    }

    // A firing check that is no longer reported at all would otherwise stay open forever. Judged per
    // sample, not once after the batch: otherwise the outcome depended on how samples were batched
    // (a check quiet for longer than maxGapMs and failing again in the same batch never resolved,
    // split over two batches it did) and the resolve was stamped with the batch's last sample.
    for (let i = 0; i < st.ckNames.length; i++) {
      if (checkFiring(st.ck, i) && t - checkLastSeen(st.ck, i) > config.maxGapMs) {
        forceResolveCheck(st.ck, i, t);
        resolved.push({ kind: 'check_failed', key: `check.${st.ckNames[i]}`, firing: false, severity: config.checks.severity, signalAt: t, evidence: { check: st.ckNames[i], reason: 'no longer reported' } });
      }
    }
  }

  return { state: st, signals: collectSignals(st, config, plan, resolved, checkDetails, now), ignored };
}

function collectSignals(
  st: InstanceRuleState,
  config: RuleConfig,
  plan: Plan,
  resolved: RuleSignal[],
  checkDetails: (string | undefined)[] | undefined,
  now: number,
): RuleSignal[] {
  const signals: RuleSignal[] = [];
  for (let i = 0; i < THRESHOLD_RULES.length; i++) {
    const o = i * THRESHOLD_STRIDE;
    const flags = thresholdFlags(st.th, o);
    if ((flags & FIRING) === 0) continue;
    const meta = THRESHOLD_RULES[i];
    signals.push({
      kind: meta.kind,
      key: meta.key,
      firing: true,
      severity: severityName(flags),
      signalAt: Math.min(thresholdSignalAt(st.th, o), now),
      evidence: thresholdEvidence(st.th, o, plan.thresholds[i]),
    });
  }
  for (let i = 0; i < ANOMALY_METRICS.length; i++) {
    const o = i * ANOMALY_STRIDE;
    const flags = anomalyFlags(st.an, o);
    if ((flags & FIRING) === 0) continue;
    signals.push({
      kind: 'anomaly',
      key: ANOMALY_METRICS[i].key,
      firing: true,
      severity: severityName(flags),
      signalAt: Math.min(anomalySignalAt(st.an, o), now),
      evidence: anomalyEvidence(st.an, o, config.anomaly, plan.anomalies[i]),
    });
  }
  if (sloFiring(st.slo, plan.slo)) {
    signals.push({
      kind: 'slo_burn',
      key: SLO_KEY,
      firing: true,
      severity: sloSeverity(st.slo, plan.slo, config.slo),
      signalAt: Math.min(sloSignalAt(st.slo, plan.slo), now),
      evidence: sloEvidence(st.slo, plan.slo, config.slo, st.at),
    });
  }
  for (let i = 0; i < TREND_METRICS.length; i++) {
    const o = i * TREND_STRIDE;
    const flags = trendFlags(st.tr, o);
    if ((flags & FIRING) === 0) continue;
    signals.push({
      kind: 'predicted',
      key: TREND_METRICS[i].key,
      firing: true,
      severity: severityName(flags),
      signalAt: Math.min(trendSignalAt(st.tr, o), now),
      evidence: trendEvidence(st.tr, o, config.trend, plan.trends[i]),
    });
  }
  for (let i = 0; i < st.ckNames.length; i++) {
    if (!checkFiring(st.ck, i)) continue;
    const detail = checkDetails?.[i];
    signals.push({
      kind: 'check_failed',
      key: `check.${st.ckNames[i]}`,
      firing: true,
      severity: config.checks.severity,
      signalAt: Math.min(checkSignalAt(st.ck, i), now),
      evidence: { check: st.ckNames[i], consecutiveFailures: checkFailures(st.ck, i), ...(detail !== undefined ? { detail } : {}) },
    });
  }
  // A rule that resolved during the batch reports its last resolve, unless it fired again since.
  for (let r = resolved.length - 1; r >= 0; r--) {
    const signal = resolved[r];
    if (signals.some((s) => s.key === signal.key)) continue;
    signal.signalAt = Math.min(signal.signalAt, now);
    signals.push(signal);
  }
  return signals;
}
