import { newEvent } from '@autoheal/contracts';
import { publishOrder } from './ingest.service.js';

describe("publishOrder: which of a tenant's events go first onto the HEALTH stream", () => {
  const data = { service: 'api', instance: 'api-1' };

  it('puts crash reports, planned stops and alerts ahead of heartbeats and metrics, each keyed by its instance', () => {
    expect(publishOrder(newEvent('health.exited', { tenantId: 'acme', producer: 'p', data: { ...data, exitCode: 137, signal: 'SIGKILL', observedBy: 'agent' } }))).toEqual({ urgent: true, key: 'api/api-1' });
    expect(publishOrder(newEvent('health.stopping', { tenantId: 'acme', producer: 'p', data }))).toEqual({ urgent: true, key: 'api/api-1' });
    expect(publishOrder(newEvent('health.heartbeat', { tenantId: 'acme', producer: 'p', data: { ...data, intervalMs: 1000, sequence: 1 } }))).toEqual({ urgent: false, key: 'api/api-1' });
  });
});
