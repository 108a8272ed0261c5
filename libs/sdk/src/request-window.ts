import type { MetricSample } from '@autoheal/contracts';

/** Upper bounds (ms) of the cumulative latency histogram every sample carries. */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000] as const;

/**
 * Latencies kept per window for exact percentiles. Past it, reservoir sampling keeps a uniform
 * sample, so a busy server costs bounded memory per window.
 */
export const MAX_LATENCIES_PER_WINDOW = 10_000;

export type RequestStats = Pick<MetricSample, 'requests' | 'errors' | 'latencyMs' | 'latencyHistogram'>;

/** Nearest-rank percentile of an ascending array (q in 0..1). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Requests, errors and latency of one window; `drain()` returns them and starts the next window. */
export class RequestWindow {
  private requests = 0;
  private errors = 0;
  private latencies: number[] = [];
  private buckets = new Array<number>(LATENCY_BUCKETS_MS.length).fill(0);

  constructor(private readonly random: () => number = Math.random) {}

  /** Ignores a latency that is not a finite, non-negative number rather than poisoning the window. */
  record(latencyMs: number, ok: boolean): void {
    if (!Number.isFinite(latencyMs) || latencyMs < 0) return;
    this.requests += 1;
    if (!ok) this.errors += 1;
    if (this.latencies.length < MAX_LATENCIES_PER_WINDOW) {
      this.latencies.push(latencyMs);
    } else {
      const slot = Math.floor(this.random() * this.requests);
      if (slot < MAX_LATENCIES_PER_WINDOW) this.latencies[slot] = latencyMs;
    }
    const bucket = LATENCY_BUCKETS_MS.findIndex((le) => latencyMs <= le);
    if (bucket >= 0) this.buckets[bucket] += 1;
  }

  drain(): RequestStats {
    const stats: RequestStats = { requests: this.requests, errors: this.errors };
    if (this.requests > 0) {
      const sorted = this.latencies.sort((a, b) => a - b);
      stats.latencyMs = { p50: round(percentile(sorted, 0.5)), p90: round(percentile(sorted, 0.9)), p99: round(percentile(sorted, 0.99)) };
      let cumulative = 0;
      stats.latencyHistogram = LATENCY_BUCKETS_MS.map((le, i) => ({ le, count: (cumulative += this.buckets[i]) }));
    }
    this.requests = 0;
    this.errors = 0;
    this.latencies = [];
    this.buckets = new Array<number>(LATENCY_BUCKETS_MS.length).fill(0);
    return stats;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
