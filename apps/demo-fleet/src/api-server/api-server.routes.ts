/** Who this process is; every response says so, which makes a restart visible from outside. */
export interface ApiServerIdentity {
  tenantId: string;
  service: string;
  instance: string;
  /** The release this process runs (RELEASE_VERSION, set by the agent). */
  release: string;
  pid: number;
  startedAt: Date;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

export interface DemoOrder {
  id: string;
  tenantId: string;
  item: string;
  quantity: number;
  status: 'open' | 'shipped';
}

const ITEMS = ['gloves', 'badge', 'ledger', 'terminal', 'keycard'];

/** A small, stable catalogue per tenant, so the demo endpoints answer something recognisable. */
export function demoOrders(tenantId: string): DemoOrder[] {
  return [1, 2, 3].map((n) => ({
    id: `${tenantId}-ord-${n}`,
    tenantId,
    item: ITEMS[(tenantId.length + n) % ITEMS.length],
    quantity: n * 2,
    status: n === 3 ? 'open' : 'shipped',
  }));
}

/** The whole API of a demo instance, as a function of method, path and identity. */
export function route(method: string, url: string, identity: ApiServerIdentity, now: Date): ApiResponse {
  const path = new URL(url, 'http://localhost').pathname;
  if (method !== 'GET') return { status: 405, body: { error: 'method_not_allowed' } };
  if (path === '/healthz') {
    return {
      status: 200,
      body: {
        status: 'ok',
        tenantId: identity.tenantId,
        service: identity.service,
        instance: identity.instance,
        release: identity.release,
        pid: identity.pid,
        uptimeMs: now.getTime() - identity.startedAt.getTime(),
      },
    };
  }
  if (path === '/v1/orders') {
    return { status: 200, body: { tenantId: identity.tenantId, servedBy: identity.instance, orders: demoOrders(identity.tenantId) } };
  }
  if (path === '/v1/reports') {
    // A summary over the orders; in a real service the CPU-heavy route (see overload.ts).
    const orders = demoOrders(identity.tenantId);
    return {
      status: 200,
      body: { tenantId: identity.tenantId, servedBy: identity.instance, report: { orders: orders.length, open: orders.filter((o) => o.status === 'open').length, quantity: orders.reduce((sum, o) => sum + o.quantity, 0) } },
    };
  }
  const match = /^\/v1\/orders\/([^/]+)$/.exec(path);
  if (match) {
    const order = demoOrders(identity.tenantId).find((o) => o.id === decodeURIComponent(match[1]));
    return order ? { status: 200, body: order } : { status: 404, body: { error: 'order_not_found' } };
  }
  return { status: 404, body: { error: 'not_found' } };
}
