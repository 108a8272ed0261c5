import { createCounter, createGauge, createHistogram } from '@autoheal/telemetry';

export const auditorMetrics = {
  checkpoints: createCounter({
    name: 'autoheal_auditor_checkpoints_total',
    help: 'Signed checkpoints made (cadence and on demand)',
  }),
  checkpointSinkFailures: createCounter({
    name: 'autoheal_auditor_checkpoint_sink_failures_total',
    help: 'Checkpoints not kept outside the database, by sink (stream, file); the next checkpoint is tried again',
    labelNames: ['sink'],
  }),
  rowsAppended: createCounter({
    name: 'autoheal_auditor_rows_appended_total',
    help: 'Rows appended to the audit log',
    labelNames: ['event_type'],
  }),
  duplicatesSkipped: createCounter({
    name: 'autoheal_auditor_duplicates_skipped_total',
    help: 'Events delivered again after they were recorded; no row was added',
  }),
  appendDuration: createHistogram({
    name: 'autoheal_auditor_append_duration_seconds',
    help: 'One append transaction: inbox claims, chain locks, rows, seals, commit (kind="event": a batch of consumed events; "read": one read window)',
    labelNames: ['kind'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  }),
  appendBatchRows: createHistogram({
    name: 'autoheal_auditor_append_batch_events',
    help: 'Events written by one append transaction of consumed events (group commit)',
    buckets: [1, 2, 5, 10, 25, 50, 100],
  }),
  appendBatchesSplit: createCounter({
    name: 'autoheal_auditor_append_batches_split_total',
    help: 'Append batches whose transaction failed and that were written again one event per transaction (a poison event, or the database away)',
  }),
  readsLimited: createCounter({
    name: 'autoheal_auditor_reads_limited_total',
    help: 'Audit API requests refused with 429 by the per-key read limits',
    labelNames: ['limit'],
  }),
  readWindowsDropped: createCounter({
    name: 'autoheal_auditor_read_windows_dropped_total',
    help: 'Reads or refusals not recorded because the most open read windows were already open',
  }),
  accessRefused: createCounter({
    name: 'autoheal_auditor_access_refused_total',
    help: 'Requests to the REST API refused (401 unauthenticated, 403 forbidden), by reason',
    labelNames: ['code'],
  }),
  // Sampled from JetStream every AUDITOR_LAG_SAMPLE_INTERVAL_MS (consumer-lag/).
  consumerLag: createGauge({
    name: 'autoheal_auditor_consumer_lag_seconds',
    help: 'Age of the oldest event an audit consumer has not acknowledged (0 when it is caught up); compare with autoheal_auditor_stream_max_age_seconds',
    labelNames: ['stream', 'consumer'],
  }),
  consumerUnacknowledged: createGauge({
    name: 'autoheal_auditor_consumer_unacknowledged_messages',
    help: 'Events an audit consumer has not acknowledged yet: pending delivery plus delivered and unacknowledged',
    labelNames: ['stream', 'consumer'],
  }),
  streamMaxAge: createGauge({
    name: 'autoheal_auditor_stream_max_age_seconds',
    help: 'How long a stream the auditor reads keeps an event (max_age; 0: for ever): an event older than this is gone whether audited or not',
    labelNames: ['stream'],
  }),
  lagSampleFailures: createCounter({
    name: 'autoheal_auditor_lag_sample_failures_total',
    help: 'Audit consumer lag samples that could not read JetStream',
    labelNames: ['stream', 'consumer'],
  }),
};
