import type { MetricSample } from '@autoheal/contracts';
import type { LatencyPercentile } from './rule.types.js';

const QUANTILE: Record<LatencyPercentile, number> = { p50: 0.5, p90: 0.9, p99: 0.99 };

/**
 * The quantile of a cumulative histogram (upper bound → requests at or below it), linearly
 * interpolated inside the bucket as Prometheus' histogram_quantile does. Undefined when the
 * histogram is empty or not cumulative in ascending bounds (nothing is sorted here: ≤ 64 buckets
 * arrive in order from a sane producer, and anything else is not trusted).
 */
export function histogramQuantile(histogram: readonly { le: number; count: number }[], q: number): number | undefined {
  const last = histogram.length - 1;
  if (last < 0) return undefined;
  const total = histogram[last].count;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const bucket of histogram) {
    if (bucket.le < prevLe || bucket.count < prevCount) return undefined;
    if (bucket.count >= rank) {
      const inBucket = bucket.count - prevCount;
      return inBucket === 0 ? bucket.le : prevLe + ((bucket.le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = bucket.le;
    prevCount = bucket.count;
  }
  return undefined;
}

/** Errors per request, or undefined when the sample has too few requests to judge. */
export function errorRateOf(sample: MetricSample, minRequests: number): number | undefined {
  const { requests, errors } = sample;
  if (requests === undefined || errors === undefined || requests === 0 || requests < minRequests) return undefined;
  return errors >= requests ? 1 : errors / requests;
}

/** The percentile as reported, else computed from the histogram; undefined with too few requests. */
export function latencyOf(sample: MetricSample, percentile: LatencyPercentile, minRequests: number): number | undefined {
  if (sample.requests !== undefined && sample.requests < minRequests) return undefined;
  const reported = sample.latencyMs?.[percentile];
  if (reported !== undefined) return reported;
  return sample.latencyHistogram ? histogramQuantile(sample.latencyHistogram, QUANTILE[percentile]) : undefined;
}

export function memoryRatioOf(sample: MetricSample): number | undefined {
  return sample.memoryBytes !== undefined && sample.memoryLimitBytes !== undefined ? sample.memoryBytes / sample.memoryLimitBytes : undefined;
}
