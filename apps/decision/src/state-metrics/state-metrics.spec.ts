import { apiTenantDoc } from '../test-support/test-documents.js';
import { stateFigures, type StateSnapshot } from './state-metrics.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = new Date('2026-06-01T12:00:00Z');
const t = now.getTime();

const empty: StateSnapshot = { globalBreakerOpen: false, tenantBreakers: [], approvals: [], tenants: [], downtime: [] };

describe('stateFigures', () => {
  it('gives every tenant with a document a closed breaker, no approvals and full availability when nothing happened', () => {
    const f = stateFigures({ ...empty, tenants: [{ tenantId: 'shop', document: apiTenantDoc('shop', 2) }] }, now, DAY);
    expect(f).toEqual({
      globalBreakerOpen: 0,
      tenantBreakerOpen: [{ tenant: 'shop', open: 0 }],
      approvals: [{ tenant: 'shop', pending: 0, oldestAgeSeconds: 0 }],
      availability: [{ tenant: 'shop', service: 'api', ratio: 1 }],
      // SOC 2's availability target.
      targets: [{ tenant: 'shop', target: 0.999 }],
    });
  });

  it('reports open breakers, approvals waiting with the oldest one’s age, and availability from incident downtime as the check measures it', () => {
    const f = stateFigures(
      {
        globalBreakerOpen: true,
        tenantBreakers: [
          { tenantId: 'shop', open: true },
          { tenantId: 'bank', open: false },
        ],
        approvals: [{ tenantId: 'bank', pending: 2, oldestDecidedAt: new Date(t - 90_000) }],
        tenants: [
          { tenantId: 'shop', document: apiTenantDoc('shop', 2) },
          { tenantId: 'bank', document: apiTenantDoc('bank', 1) },
        ],
        downtime: [
          // One of shop's two api instances down for 2.4 h of the day: 1.2 h of service downtime, 95 %.
          { tenantId: 'shop', service: 'api', instance: 'api-1', kind: 'crashed', downSince: t - 3 * HOUR, downUntil: t - 0.6 * HOUR, suspectedCause: null },
          // A suspected observer fault is not downtime.
          { tenantId: 'shop', service: 'api', instance: 'api-2', kind: 'heartbeat_missed', downSince: t - HOUR, downUntil: null, suspectedCause: 'detector_or_network' },
          // A service the inventory does not declare still gets its figure: its only instance is down half the day.
          { tenantId: 'shop', service: 'batch', instance: 'b-1', kind: 'crashed', downSince: t - 12 * HOUR, downUntil: null, suspectedCause: null },
          // A tenant without a document has no target and no figure.
          { tenantId: 'ghost', service: 'api', instance: 'x', kind: 'crashed', downSince: t - HOUR, downUntil: null, suspectedCause: null },
        ],
      },
      now,
      DAY,
    );
    expect(f.globalBreakerOpen).toBe(1);
    expect(f.tenantBreakerOpen).toEqual([
      { tenant: 'bank', open: 0 },
      { tenant: 'shop', open: 1 },
    ]);
    expect(f.approvals).toEqual([
      { tenant: 'bank', pending: 2, oldestAgeSeconds: 90 },
      { tenant: 'shop', pending: 0, oldestAgeSeconds: 0 },
    ]);
    expect(f.availability.map((a) => ({ ...a, ratio: Number(a.ratio.toFixed(6)) }))).toEqual([
      { tenant: 'bank', service: 'api', ratio: 1 },
      { tenant: 'shop', service: 'api', ratio: 0.95 },
      { tenant: 'shop', service: 'batch', ratio: 0.5 },
    ]);
    expect(f.targets.map((x) => x.tenant)).toEqual(['bank', 'shop']);
  });
});
