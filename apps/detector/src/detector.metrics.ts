import { Counter, Gauge, Histogram } from 'prom-client';
import { metricsRegistry } from '@autoheal/telemetry';

export const detectorMetrics = {
  trackedInstances: new Gauge({ name: 'autoheal_detector_tracked_instances', help: 'Instances the detector tracks', registers: [metricsRegistry] }),
  incidentsOpened: new Counter({ name: 'autoheal_detector_incidents_opened_total', help: 'Incidents opened, by kind and tenant', labelNames: ['kind', 'tenant'], registers: [metricsRegistry] }),
  instanceQuotaExceeded: new Counter({
    name: 'autoheal_detector_instance_quota_exceeded_total',
    help: 'Health events refused because their tenant already tracks DETECTOR_MAX_INSTANCES_PER_TENANT instances here',
    labelNames: ['tenant'],
    registers: [metricsRegistry],
  }),
  observerFaults: new Counter({
    name: 'autoheal_detector_observer_faults_total',
    help: 'Hang deadlines that passed while the detector was not listening (timer_late, handover): their incidents are marked as a suspected detector or network fault',
    labelNames: ['signal'],
    registers: [metricsRegistry],
  }),
  incidentsResolved: new Counter({ name: 'autoheal_detector_incidents_resolved_total', help: 'Incidents resolved', registers: [metricsRegistry] }),
  detectionLatency: new Histogram({
    name: 'autoheal_detector_detection_latency_seconds',
    help: 'Signal (deadline passed) to incident committed',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [metricsRegistry],
  }),
};
