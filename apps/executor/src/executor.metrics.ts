import { createCounter, createHistogram } from '@autoheal/telemetry';

export const executorMetrics = {
  executions: createCounter({ name: 'autoheal_executor_executions_total', help: 'Remediations carried to a final status', labelNames: ['action', 'status'] }),
  driverCalls: createCounter({ name: 'autoheal_executor_driver_calls_total', help: 'Requests to a remediation driver, by result', labelNames: ['driver', 'result'] }),
  duration: createHistogram({
    name: 'autoheal_executor_execution_duration_seconds',
    help: 'Execution claimed to final status, retries included',
    labelNames: ['action'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  }),
  planToExecuted: createHistogram({
    name: 'autoheal_executor_plan_to_executed_seconds',
    help: 'Remediation planned or approved (the event the executor acted on) to its final status committed, by action and status',
    labelNames: ['action', 'status'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  }),
};
