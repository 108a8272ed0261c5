import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';

/** The one registry a process exposes at GET /metrics. */
export const metricsRegistry = new Registry();

let defaultMetricsCollected = false;

/**
 * Labels every series with `service` and collects Node's default metrics (event loop lag,
 * heap, GC, handles). Idempotent: tests build several apps in one process.
 */
export function configureMetrics(service: string): void {
  metricsRegistry.setDefaultLabels({ service });
  if (!defaultMetricsCollected) {
    collectDefaultMetrics({ register: metricsRegistry });
    defaultMetricsCollected = true;
  }
}

// A metric name can be registered once per registry; returning the existing one keeps a module
// that is evaluated twice (Jest's module registry, hot reload) from throwing at import.
function existing<T>(name: string, kind: new (...args: never[]) => T): T | undefined {
  const metric = metricsRegistry.getSingleMetric(name);
  if (!metric) return undefined;
  if (!(metric instanceof kind)) throw new Error(`metric ${name} is already registered as a different type`);
  return metric;
}

export function createCounter<L extends string = string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
  return existing(config.name, Counter<L>) ?? new Counter<L>({ ...config, registers: [metricsRegistry] });
}

export function createHistogram<L extends string = string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
  return existing(config.name, Histogram<L>) ?? new Histogram<L>({ ...config, registers: [metricsRegistry] });
}

export function createGauge<L extends string = string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
  return existing(config.name, Gauge<L>) ?? new Gauge<L>({ ...config, registers: [metricsRegistry] });
}
