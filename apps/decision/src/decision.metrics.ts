import { createCounter, createGauge, createHistogram } from '@autoheal/telemetry';

export const decisionMetrics = {
  decisions: createCounter({ name: 'autoheal_decision_decisions_total', help: 'Decisions taken on opened incidents', labelNames: ['outcome'] }),
  refusals: createCounter({ name: 'autoheal_decision_compliance_refusals_total', help: 'Automatic actions refused by a compliance rule', labelNames: ['rule'] }),
  outcomes: createCounter({ name: 'autoheal_decision_remediation_outcomes_total', help: 'Outcomes of planned remediations', labelNames: ['status'] }),
  breakerTrips: createCounter({ name: 'autoheal_decision_breaker_trips_total', help: 'Times the global circuit breaker opened' }),
  tenantBreakerTrips: createCounter({ name: 'autoheal_decision_tenant_breaker_trips_total', help: "Times a tenant's circuit breaker opened", labelNames: ['tenant'] }),
  undeclaredIncidents: createCounter({
    name: 'autoheal_decision_undeclared_instance_incidents_total',
    help: "Opened incidents on an instance or service the tenant's inventory does not declare (counted toward no breaker)",
    labelNames: ['tenant'],
  }),
  deliveries: createCounter({ name: 'autoheal_decision_escalation_deliveries_total', help: 'Final outcomes of escalation deliveries', labelNames: ['kind', 'outcome'] }),
  compliance: createCounter({ name: 'autoheal_decision_compliance_events_total', help: 'Compliance events: time to remediate (at_risk, breach) and availability (availability_breach)', labelNames: ['type'] }),
  adminRefused: createCounter({ name: 'autoheal_decision_admin_refused_total', help: 'Admin API requests refused (401, 403), by reason', labelNames: ['code'] }),

  // Pipeline latency, the decision's stages: incident → decision, executed → verified, and the whole.
  decisionLatency: createHistogram({
    name: 'autoheal_decision_decision_latency_seconds',
    help: 'Incident detected (detectedAt of incident.opened) to its first decision committed, by outcome',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  }),
  verificationLatency: createHistogram({
    name: 'autoheal_decision_verification_latency_seconds',
    help: 'Remediation reported executed to verified or failed verification, by result and action',
    labelNames: ['result', 'action'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
  }),
  timeToRemediate: createHistogram({
    name: 'autoheal_decision_time_to_remediate_seconds',
    help: 'Incident opened to its remediation verified (the time to remediate compliance profiles bound), by action',
    labelNames: ['action'],
    buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 14400],
  }),

  // State, sampled from the database every DECISION_METRICS_INTERVAL_MS (StateMetricsSampler).
  breakerOpen: createGauge({ name: 'autoheal_decision_breaker_open', help: 'The global circuit breaker: 1 open (every tenant\'s automatic actions stopped), 0 closed' }),
  tenantBreakerOpen: createGauge({
    name: 'autoheal_decision_tenant_breaker_open',
    help: "A tenant's circuit breaker: 1 open (its automatic actions stopped), 0 closed; every tenant with a document",
    labelNames: ['tenant'],
  }),
  pendingApprovals: createGauge({ name: 'autoheal_decision_pending_approvals', help: 'Remediations awaiting a human approval', labelNames: ['tenant'] }),
  oldestPendingApproval: createGauge({
    name: 'autoheal_decision_oldest_pending_approval_age_seconds',
    help: 'How long the oldest remediation awaiting approval has waited',
    labelNames: ['tenant'],
  }),
  serviceAvailability: createGauge({
    name: 'autoheal_decision_service_availability_ratio',
    // `tenant_service`, not `service`: every series already carries `service`, the process's own.
    help: "Availability of a tenant's service over DECISION_AVAILABILITY_WINDOW_MS from incident downtime (0..1), as the availability check measures it",
    labelNames: ['tenant', 'tenant_service'],
  }),
  availabilityTarget: createGauge({
    name: 'autoheal_decision_availability_target_ratio',
    help: "The tenant's availability target from its compliance profile (0..1; the strictest framework wins)",
    labelNames: ['tenant'],
  }),
};
