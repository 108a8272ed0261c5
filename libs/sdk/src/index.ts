export {
  HealthReporter,
  MIN_INTERVAL_MS,
  MAX_INTERVAL_MS,
  type HealthReporterOptions,
  type HealthReportFailure,
  type HealthReporterStats,
} from './health-reporter.js';
export { type CheckFn, MAX_CHECKS } from './custom-checks.js';
export { LATENCY_BUCKETS_MS } from './request-window.js';
export { MAX_SAMPLES_PER_BATCH } from './sample-buffer.js';
export { ExitReporter, type ExitReporterOptions, type ExitedInstance } from './exit-reporter.js';
export { natsCredentialOptions, type NatsCredentials } from './credentials.js';
