import { createCounter } from '@autoheal/telemetry';

export const decisionMetrics = {
  decisions: createCounter({ name: 'autoheal_decision_decisions_total', help: 'Decisions taken on opened incidents', labelNames: ['outcome'] }),
  refusals: createCounter({ name: 'autoheal_decision_compliance_refusals_total', help: 'Automatic actions refused by a compliance rule', labelNames: ['rule'] }),
  outcomes: createCounter({ name: 'autoheal_decision_remediation_outcomes_total', help: 'Outcomes of planned remediations', labelNames: ['status'] }),
};
