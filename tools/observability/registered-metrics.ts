// The metrics our services register, read from the registry each process exposes at /metrics.
// Importing each service's root module loads every file that registers one (metrics are created
// at import, in the *.metrics.ts files and the shared libraries).
import { configureMetrics, metricsRegistry } from '@autoheal/telemetry';
import '../../apps/auditor/src/auditor.module';
import '../../apps/decision/src/decision.module';
import '../../apps/detector/src/detector.module';
import '../../apps/executor/src/executor.module';

/** Labels every series may carry besides its own: the registry's default label, and Prometheus' target labels. */
const COMMON_LABELS = ['service', 'job', 'instance'];

/** Series Prometheus itself writes for each scrape target. */
const SCRAPE_SERIES: Record<string, string[]> = { up: [], scrape_duration_seconds: [], scrape_samples_scraped: [] };

/** Every series name a scrape of our services can show, with the label names it may carry. */
export function registeredSeries(): Map<string, Set<string>> {
  // The Node.js default metrics (process_*, nodejs_*) as every service collects them.
  configureMetrics('registered-metrics');
  const series = new Map<string, Set<string>>();
  const add = (name: string, labels: readonly string[]) => series.set(name, new Set([...COMMON_LABELS, ...labels]));
  for (const metric of metricsRegistry.getMetricsAsArray()) {
    // Every prom-client metric keeps its label names; the exported type leaves them out.
    const own = (metric as unknown as { labelNames?: string[] }).labelNames ?? [];
    switch (String(metric.type)) {
      case 'histogram':
        add(`${metric.name}_bucket`, [...own, 'le']);
        add(`${metric.name}_sum`, own);
        add(`${metric.name}_count`, own);
        break;
      case 'summary':
        add(metric.name, [...own, 'quantile']);
        add(`${metric.name}_sum`, own);
        add(`${metric.name}_count`, own);
        break;
      default:
        add(metric.name, own);
    }
  }
  for (const [name, labels] of Object.entries(SCRAPE_SERIES)) add(name, labels);
  return series;
}

/** What is wrong with an expression's selectors against the registered series; empty when nothing is. */
export function unknownReferences(selectors: readonly { metric: string; labels: string[] }[], series: Map<string, Set<string>>): string[] {
  const problems: string[] = [];
  for (const { metric, labels } of selectors) {
    const allowed = series.get(metric);
    if (!allowed) {
      problems.push(`${metric} is not a registered metric`);
      continue;
    }
    for (const label of labels) if (!allowed.has(label)) problems.push(`${metric} has no label ${label}`);
  }
  return problems;
}
