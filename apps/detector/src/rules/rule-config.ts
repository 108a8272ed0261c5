import { z } from 'zod';
import type { MaintenanceWindow, RuleConfig, RuleConfigOverride, RulesFile, ThresholdRuleConfig } from './rule.types.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** At most this many distinct SLO windows (the state keeps a ring per window). */
export const MAX_SLO_WINDOWS = 8;
/** M-of-N windows are bit masks in one 32-bit integer. */
export const MAX_M_OF_N = 30;

/**
 * Defaults for an API server reporting a sample about every second. Detection is meant to take
 * seconds, not the minute of a default Prometheus rule, while a single bad sample opens nothing.
 */
export const DEFAULT_RULE_CONFIG: RuleConfig = deepFreeze({
  maxGapMs: 60 * SECOND,
  maxClockSkewMs: 5 * MINUTE,
  errorRate: { enabled: true, open: 0.05, resolve: 0.02, major: 0.1, critical: 0.25, mode: 'm_of_n', forMs: 0, resolveForMs: 0, m: 3, n: 5, minRequests: 20 },
  latency: {
    enabled: true,
    open: 1000,
    resolve: 500,
    major: 2000,
    critical: 5000,
    mode: 'm_of_n',
    forMs: 0,
    resolveForMs: 0,
    m: 3,
    n: 5,
    percentile: 'p99',
    minRequests: 10,
  },
  saturation: {
    // CPU spikes are normal (GC, bursts): only a sustained half minute counts.
    cpu: { enabled: true, open: 0.9, resolve: 0.7, major: 0.95, critical: 0.99, mode: 'for', forMs: 30 * SECOND, resolveForMs: 10 * SECOND, m: 3, n: 5 },
    memory: { enabled: true, open: 0.9, resolve: 0.85, major: 0.95, critical: 0.98, mode: 'for', forMs: 10 * SECOND, resolveForMs: 10 * SECOND, m: 3, n: 5 },
    eventLoopLag: { enabled: true, open: 200, resolve: 100, major: 500, critical: 1000, mode: 'm_of_n', forMs: 0, resolveForMs: 0, m: 3, n: 5 },
    disk: { enabled: true, open: 0.9, resolve: 0.85, major: 0.95, critical: 0.98, mode: 'for', forMs: 10 * SECOND, resolveForMs: 10 * SECOND, m: 3, n: 5 },
  },
  anomaly: {
    enabled: true,
    alpha: 0.03,
    k: 5,
    consecutive: 3,
    resolveK: 2,
    resolveConsecutive: 5,
    majorK: 10,
    criticalK: 20,
    warmupSamples: 60,
    minRelativeSpread: 0.1,
    relearnAfterMs: 30 * MINUTE,
    suppressWhenThresholdFiring: true,
    metrics: {
      latency: { enabled: true, minSpread: 5 },
      eventLoopLag: { enabled: true, minSpread: 5 },
      // Error rate and CPU have static thresholds that fit most services; opt in per service.
      errorRate: { enabled: false, minSpread: 0.01 },
      cpu: { enabled: false, minSpread: 0.05 },
    },
  },
  slo: {
    enabled: true,
    target: 0.999,
    minRequests: 20,
    resolveRatio: 0.8,
    // The SRE workbook's pair for a 30-day budget: 2% of it in an hour, 5% in six hours.
    alerts: [
      { longWindowMs: HOUR, shortWindowMs: 5 * MINUTE, burnRate: 14.4, severity: 'critical' },
      { longWindowMs: 6 * HOUR, shortWindowMs: 30 * MINUTE, burnRate: 6, severity: 'major' },
    ],
  },
  trend: {
    enabled: true,
    windowMs: 5 * MINUTE,
    horizonMs: 15 * MINUTE,
    resolveHorizonMs: 30 * MINUTE,
    minR2: 0.8,
    resolveR2: 0.5,
    minSamples: 20,
    minSpanMs: 2 * MINUTE,
    consecutive: 3,
    metrics: { memory: { enabled: true, threshold: 0.9 }, disk: { enabled: true, threshold: 0.9 } },
  },
  checks: { enabled: true, failAfter: 3, passAfter: 2, severity: 'major' },
});

const nonNegative = z.number().nonnegative();
const positiveInt = z.number().int().positive();
const severity = z.enum(['critical', 'major', 'minor']);

const thresholdRuleShape = {
  enabled: z.boolean(),
  open: z.number(),
  resolve: z.number(),
  major: z.number(),
  critical: z.number(),
  mode: z.enum(['for', 'm_of_n']),
  forMs: nonNegative,
  resolveForMs: nonNegative,
  m: positiveInt.max(MAX_M_OF_N),
  n: positiveInt.max(MAX_M_OF_N),
};
const thresholdRule = z.object(thresholdRuleShape).strict();
const anomalyMetric = z.object({ enabled: z.boolean(), minSpread: z.number().positive() }).strict();
const trendMetric = z.object({ enabled: z.boolean(), threshold: z.number().positive() }).strict();
const ratio = z.number().min(0).max(1);

/** The shape of a complete configuration; cross-field consistency is checked by `ruleConfigSchema`. */
const ruleConfigShape = z
  .object({
    maxGapMs: positiveInt,
    maxClockSkewMs: nonNegative,
    errorRate: z.object({ ...thresholdRuleShape, minRequests: z.number().int().nonnegative() }).strict(),
    latency: z.object({ ...thresholdRuleShape, percentile: z.enum(['p50', 'p90', 'p99']), minRequests: z.number().int().nonnegative() }).strict(),
    saturation: z.object({ cpu: thresholdRule, memory: thresholdRule, eventLoopLag: thresholdRule, disk: thresholdRule }).strict(),
    anomaly: z
      .object({
        enabled: z.boolean(),
        alpha: z.number().gt(0).max(1),
        k: z.number().positive(),
        consecutive: positiveInt,
        resolveK: z.number(),
        resolveConsecutive: positiveInt,
        majorK: z.number().positive(),
        criticalK: z.number().positive(),
        warmupSamples: z.number().int().nonnegative(),
        minRelativeSpread: nonNegative,
        relearnAfterMs: positiveInt,
        suppressWhenThresholdFiring: z.boolean(),
        metrics: z.object({ latency: anomalyMetric, errorRate: anomalyMetric, eventLoopLag: anomalyMetric, cpu: anomalyMetric }).strict(),
      })
      .strict(),
    slo: z
      .object({
        enabled: z.boolean(),
        target: z.number().gt(0).lt(1),
        minRequests: z.number().int().nonnegative(),
        resolveRatio: z.number().gt(0).max(1),
        alerts: z
          .array(
            z
              .object({ longWindowMs: z.number().int().min(60 * SECOND), shortWindowMs: z.number().int().min(10 * SECOND), burnRate: z.number().positive(), severity })
              .strict(),
          )
          .max(4),
      })
      .strict(),
    trend: z
      .object({
        enabled: z.boolean(),
        windowMs: positiveInt,
        horizonMs: positiveInt,
        resolveHorizonMs: positiveInt,
        minR2: ratio,
        resolveR2: ratio,
        minSamples: z.number().int().min(3),
        minSpanMs: nonNegative,
        consecutive: positiveInt,
        metrics: z.object({ memory: trendMetric, disk: trendMetric }).strict(),
      })
      .strict(),
    checks: z.object({ enabled: z.boolean(), failAfter: positiveInt, passAfter: positiveInt, severity }).strict(),
  })
  .strict();

function checkThreshold(path: string, r: ThresholdRuleConfig, issues: string[]): void {
  if (!(r.resolve <= r.open)) issues.push(`${path}: resolve (${r.resolve}) must not exceed open (${r.open})`);
  if (!(r.open <= r.major && r.major <= r.critical)) issues.push(`${path}: expected open ≤ major ≤ critical`);
  if (r.m > r.n) issues.push(`${path}: m (${r.m}) must not exceed n (${r.n})`);
}

/** Cross-field rules that a per-field schema cannot say; returns every problem at once. */
export function ruleConfigIssues(c: RuleConfig): string[] {
  const issues: string[] = [];
  checkThreshold('errorRate', c.errorRate, issues);
  checkThreshold('latency', c.latency, issues);
  for (const name of ['cpu', 'memory', 'eventLoopLag', 'disk'] as const) checkThreshold(`saturation.${name}`, c.saturation[name], issues);
  const a = c.anomaly;
  if (!(a.resolveK < a.k && a.k <= a.majorK && a.majorK <= a.criticalK)) issues.push('anomaly: expected resolveK < k ≤ majorK ≤ criticalK');
  c.slo.alerts.forEach((alert, i) => {
    if (!(alert.shortWindowMs < alert.longWindowMs)) issues.push(`slo.alerts.${i}: shortWindowMs must be shorter than longWindowMs`);
  });
  if (sloWindows(c).length > MAX_SLO_WINDOWS) issues.push(`slo.alerts: at most ${MAX_SLO_WINDOWS} distinct windows`);
  if (!(c.trend.resolveHorizonMs >= c.trend.horizonMs)) issues.push('trend: resolveHorizonMs must be at least horizonMs');
  if (!(c.trend.resolveR2 <= c.trend.minR2)) issues.push('trend: resolveR2 must not exceed minR2');
  return issues;
}

/** The distinct windows the SLO alerts need, in first-use order (the state's ring order). */
export function sloWindows(c: RuleConfig): number[] {
  const windows: number[] = [];
  for (const alert of c.slo.alerts) {
    if (!windows.includes(alert.longWindowMs)) windows.push(alert.longWindowMs);
    if (!windows.includes(alert.shortWindowMs)) windows.push(alert.shortWindowMs);
  }
  return windows;
}

export const ruleConfigSchema: z.ZodType<RuleConfig> = ruleConfigShape.superRefine((config, ctx) => {
  for (const message of ruleConfigIssues(config)) ctx.addIssue({ code: 'custom', message });
});

/** Every object key optional (recursively), objects still strict so that a typo is an error; arrays replace. */
function deepPartial(schema: z.core.$ZodType): z.core.$ZodType {
  if (!(schema instanceof z.ZodObject)) return schema;
  const shape: Record<string, z.core.$ZodType> = {};
  const { shape: fields } = schema as z.ZodObject<Record<string, z.core.$ZodType>>;
  for (const [key, value] of Object.entries(fields)) shape[key] = z.optional(deepPartial(value));
  return z.object(shape).strict();
}

export const ruleConfigOverrideSchema = deepPartial(ruleConfigShape) as unknown as z.ZodType<RuleConfigOverride>;

const maintenanceWindowSchema = z
  .object({
    service: z.string().min(1).optional(),
    instance: z.string().min(1).optional(),
    from: z.iso.datetime({ offset: true }),
    to: z.iso.datetime({ offset: true }),
    reason: z.string().min(1).max(500),
  })
  .strict()
  .refine((w) => Date.parse(w.from) < Date.parse(w.to), { message: 'from must be before to' })
  .refine((w) => w.instance === undefined || w.service !== undefined, { message: 'an instance needs its service' });

const rulesFileShape = z
  .object({
    defaults: ruleConfigOverrideSchema.optional(),
    tenants: z
      .record(
        z.string().min(1),
        z
          .object({
            defaults: ruleConfigOverrideSchema.optional(),
            services: z.record(z.string().min(1), ruleConfigOverrideSchema).optional(),
            maintenance: z.array(maintenanceWindowSchema).max(1000).optional(),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();

/**
 * The per-tenant rules file. Beyond the shape, every configuration it can produce (file
 * defaults, each tenant, each service) must be consistent, so a bad file fails at load, not
 * on the first sample of the service it breaks.
 */
export const rulesFileSchema: z.ZodType<RulesFile> = rulesFileShape.superRefine((file, ctx) => {
  const report = (path: (string | number)[], overrides: (RuleConfigOverride | undefined)[]): void => {
    const result = ruleConfigSchema.safeParse(mergeAll(overrides));
    if (!result.success) for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', path: [...path, ...issue.path], message: issue.message });
  };
  report(['defaults'], [file.defaults]);
  for (const [tenantId, tenant] of Object.entries(file.tenants ?? {})) {
    report(['tenants', tenantId, 'defaults'], [file.defaults, tenant.defaults]);
    for (const [service, override] of Object.entries(tenant.services ?? {})) {
      report(['tenants', tenantId, 'services', service], [file.defaults, tenant.defaults, override]);
    }
  }
});

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: unknown, override: unknown): unknown {
  if (override === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = deepMerge(base[key], value);
  return merged;
}

function mergeAll(overrides: (RuleConfigOverride | undefined)[]): unknown {
  let merged: unknown = DEFAULT_RULE_CONFIG;
  for (const override of overrides) merged = deepMerge(merged, override);
  return merged;
}

// Resolved configurations are shared (frozen) objects: one per distinct override level, so
// 10,000 services without overrides cost one object, and the hot path never merges.
const resolvedCache = new WeakMap<RulesFile, Map<string, RuleConfig>>();

function resolveOnce(cache: Map<string, RuleConfig>, key: string, overrides: (RuleConfigOverride | undefined)[]): RuleConfig {
  const cached = cache.get(key);
  if (cached) return cached;
  const result = ruleConfigSchema.safeParse(mergeAll(overrides));
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid rule configuration for ${key || 'defaults'}:\n${lines.join('\n')}`);
  }
  const config = deepFreeze(result.data);
  cache.set(key, config);
  return config;
}

/**
 * The configuration for one service: built-in defaults ← file defaults ← tenant defaults ←
 * service override, merged key by key (arrays replace) and validated. Cached per file, so
 * calling it per event is cheap. Throws on an inconsistent result (which `rulesFileSchema`
 * already rejects at load).
 */
export function resolveRuleConfig(file: RulesFile | undefined, tenantId: string, service: string): RuleConfig {
  if (!file) return DEFAULT_RULE_CONFIG;
  let cache = resolvedCache.get(file);
  if (!cache) {
    cache = new Map();
    resolvedCache.set(file, cache);
  }
  const tenant = file.tenants?.[tenantId];
  const serviceOverride = tenant?.services?.[service];
  if (serviceOverride) return resolveOnce(cache, `${tenantId}\u0000${service}`, [file.defaults, tenant?.defaults, serviceOverride]);
  if (tenant?.defaults) return resolveOnce(cache, tenantId, [file.defaults, tenant.defaults]);
  return resolveOnce(cache, '', [file.defaults]);
}

function covers(window: MaintenanceWindow, service: string, instance: string, now: number): boolean {
  if (window.service !== undefined && window.service !== service) return false;
  if (window.instance !== undefined && window.instance !== instance) return false;
  // [from, to): a window ending at 10:00 no longer covers 10:00.
  return Date.parse(window.from) <= now && now < Date.parse(window.to);
}

/** True when a maintenance window of the tenant covers the instance at `now` (epoch ms). */
export function inMaintenance(file: RulesFile | undefined, tenantId: string, service: string, instance: string, now: number): boolean {
  const windows = file?.tenants?.[tenantId]?.maintenance;
  if (!windows) return false;
  for (const window of windows) if (covers(window, service, instance, now)) return true;
  return false;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
