import { subjectTemplate } from './messaging-spans.js';

describe('subjectTemplate', () => {
  it.each([
    ['incident.acme.opened', 'incident.{tenant}.opened'],
    ['remediation.acme.verification_failed', 'remediation.{tenant}.verification_failed'],
    ['compliance.acme.breach', 'compliance.{tenant}.breach'],
    ['security.acme.event_rejected', 'security.{tenant}.event_rejected'],
    ['health.acme.api.api-1', 'health.{tenant}.{service}.{instance}'],
    ['agent.command.acme.api.api-1', 'agent.command.{tenant}.{service}.{instance}'],
    ['deadletter.HEALTH.detector-health.acme', 'deadletter.HEALTH.detector-health.{tenant}'],
    // Anything else is left as it is (few subjects, no tenant in them).
    ['agent.status', 'agent.status'],
    ['health.malformed', 'health.malformed'],
  ])('%s → %s', (subject, template) => {
    expect(subjectTemplate(subject)).toBe(template);
  });
});
