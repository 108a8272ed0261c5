export {
  HealthReporter,
  MIN_INTERVAL_MS,
  MAX_INTERVAL_MS,
  type HealthReporterOptions,
  type HealthReportFailure,
  type HealthReporterStats,
} from './health-reporter.js';
