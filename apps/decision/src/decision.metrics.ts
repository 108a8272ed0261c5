import { createCounter } from '@autoheal/telemetry';

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
};
