import { createHmac } from 'node:crypto';
import { classifyResponse, nextAttemptDelay, signBody } from './delivery-policy.js';
import { deliveryBody, escalationTargetsOf } from './escalation-targets.js';
import type { TenantDocument } from '../planning/policy-port.js';

describe('escalation delivery rules', () => {
  it.each([
    [200, true, false],
    [202, true, false],
    [400, false, false],
    [401, false, false],
    [408, false, true],
    [429, false, true],
    [500, false, true],
    [503, false, true],
  ])('HTTP %i → delivered=%s retryable=%s', (status, ok, retryable) => {
    const result = classifyResponse(status);
    expect(result.ok).toBe(ok);
    if (!result.ok) expect(result.retryable).toBe(retryable);
  });

  it('backs off exponentially up to a cap', () => {
    expect([1, 2, 3, 4].map((n) => nextAttemptDelay(n, 100))).toEqual([100, 200, 400, 800]);
    expect(nextAttemptDelay(30, 1000, 60_000)).toBe(60_000);
  });

  it('signs the raw body with HMAC-SHA256', () => {
    const body = '{"a":1}';
    expect(signBody('s3cret', body)).toBe(`sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`);
    expect(signBody('other', body)).not.toBe(signBody('s3cret', body));
  });

  it('builds a PagerDuty Events v2 trigger deduplicated by incident', () => {
    const doc = { escalation: { targets: [{ kind: 'pagerduty', name: 'pd', secretRef: 'PD_ROUTING_KEY' }, { kind: 'webhook', name: 'hook', url: 'http://h/x', secretRef: 'HOOK_SECRET' }] } } as unknown as TenantDocument;
    const [pd, hook] = escalationTargetsOf(doc);
    expect(pd).toEqual({ kind: 'pagerduty', name: 'pd', secretRef: 'PD_ROUTING_KEY', url: 'https://events.pagerduty.com/v2/enqueue' });
    expect(hook).toEqual({ kind: 'webhook', name: 'hook', url: 'http://h/x', secretRef: 'HOOK_SECRET' });
    const message = { tenantId: 't', incidentId: 'inc-1', service: 'api', instance: 'api-1', severity: 'critical', reason: 'why', policyVersion: 'v' };
    expect(deliveryBody(pd, message)).not.toHaveProperty('routing_key');
    expect(deliveryBody(pd, message)).toMatchObject({ event_action: 'trigger', dedup_key: 'inc-1', payload: { severity: 'critical', source: 'autoheal/t/api/api-1' } });
    expect(deliveryBody(hook, message)).toMatchObject({ dedupKey: 'inc-1', reason: 'why' });
  });
});
