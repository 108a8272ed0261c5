import { route, type ApiServerIdentity } from './api-server.routes.js';

const identity: ApiServerIdentity = {
  tenantId: 'acme-health',
  service: 'patient-api',
  instance: 'patient-api-1',
  release: 'v2',
  pid: 4242,
  startedAt: new Date('2030-01-01T00:00:00.000Z'),
};
const now = new Date('2030-01-01T00:00:05.000Z');

describe('api-server routes', () => {
  it('GET /healthz answers 200 with the identity and pid, which is how the agent knows the new process is up', () => {
    expect(route('GET', '/healthz', identity, now)).toEqual({
      status: 200,
      body: { status: 'ok', tenantId: 'acme-health', service: 'patient-api', instance: 'patient-api-1', release: 'v2', pid: 4242, uptimeMs: 5000 },
    });
  });

  it('GET /v1/orders lists the tenant’s orders and who served them', () => {
    const response = route('GET', '/v1/orders?limit=10', identity, now);
    expect(response.status).toBe(200);
    const body = response.body as { tenantId: string; servedBy: string; orders: { id: string; tenantId: string }[] };
    expect(body.tenantId).toBe('acme-health');
    expect(body.servedBy).toBe('patient-api-1');
    expect(body.orders.length).toBeGreaterThan(0);
    expect(body.orders.every((o) => o.tenantId === 'acme-health' && o.id.startsWith('acme-health-'))).toBe(true);
  });

  it('GET /v1/orders/:id finds one order or answers 404', () => {
    expect(route('GET', '/v1/orders/acme-health-ord-2', identity, now)).toMatchObject({ status: 200, body: { id: 'acme-health-ord-2' } });
    expect(route('GET', '/v1/orders/globex-pay-ord-2', identity, now)).toEqual({ status: 404, body: { error: 'order_not_found' } });
  });

  it('GET /v1/reports sums the tenant’s orders and says who served them', () => {
    expect(route('GET', '/v1/reports', identity, now)).toEqual({
      status: 200,
      body: { tenantId: 'acme-health', servedBy: identity.instance, report: { orders: 3, open: 1, quantity: 12 } },
    });
  });

  it('answers 404 for unknown paths and 405 for anything but GET', () => {
    expect(route('GET', '/admin', identity, now).status).toBe(404);
    expect(route('POST', '/v1/orders', identity, now).status).toBe(405);
  });
});
