import { changesState, upstreamRoute } from './upstream-route.js';

describe('upstreamRoute: what the console forwards on a person’s behalf', () => {
  it.each([
    ['GET', '/api/auditor/v1/tenants/acme/incidents?limit=25', 'auditor', '/v1/tenants/acme/incidents?limit=25'],
    ['GET', '/api/auditor/v1/tenants/acme/incidents/0193f3c2-1d5e-7a00-8000-000000000001/timeline', 'auditor', '/v1/tenants/acme/incidents/0193f3c2-1d5e-7a00-8000-000000000001/timeline'],
    ['GET', '/api/auditor/v1/tenants/acme/approvals/pending', 'auditor', '/v1/tenants/acme/approvals/pending'],
    ['GET', '/api/auditor/v1/tenants/acme/audit?cursor=abc&limit=50', 'auditor', '/v1/tenants/acme/audit?cursor=abc&limit=50'],
    ['GET', '/api/auditor/v1/tenants/acme/audit/verify', 'auditor', '/v1/tenants/acme/audit/verify'],
    ['GET', '/api/auditor/v1/tenants/acme/audit/export', 'auditor', '/v1/tenants/acme/audit/export'],
    ['GET', '/api/auditor/v1/tenants/acme/reports/compliance?from=a&to=b&format=csv', 'auditor', '/v1/tenants/acme/reports/compliance?from=a&to=b&format=csv'],
    ['GET', '/api/decision/v1/admin/tenants', 'decision', '/v1/admin/tenants'],
    ['GET', '/api/decision/v1/admin/tenants/acme/diff?from=v1&to=v2', 'decision', '/v1/admin/tenants/acme/diff?from=v1&to=v2'],
    ['GET', '/api/decision/v1/admin/breaker', 'decision', '/v1/admin/breaker'],
    ['POST', '/api/decision/v1/admin/remediations/0193f3c2-1d5e-7a00-8000-000000000001:approve', 'decision', '/v1/admin/remediations/0193f3c2-1d5e-7a00-8000-000000000001:approve'],
    ['POST', '/api/decision/v1/admin/remediations/0193f3c2-1d5e-7a00-8000-000000000001:reject', 'decision', '/v1/admin/remediations/0193f3c2-1d5e-7a00-8000-000000000001:reject'],
    ['POST', '/api/decision/v1/admin/breaker:resume', 'decision', '/v1/admin/breaker:resume'],
    ['POST', '/api/decision/v1/admin/breaker/tenants/acme:resume', 'decision', '/v1/admin/breaker/tenants/acme:resume'],
  ])('%s %s → %s %s', (method, target, upstream, path) => {
    expect(upstreamRoute(method, target)).toEqual({ upstream, path });
  });

  it.each([
    // Not console actions: keys, tenant documents, backtests.
    ['POST', '/api/auditor/v1/api-keys'],
    ['GET', '/api/auditor/v1/api-keys'],
    ['POST', '/api/decision/v1/admin/tenants:apply'],
    ['POST', '/api/decision/v1/admin/tenants/acme/backtest'],
    // A read route asked to change state, and the other way round.
    ['POST', '/api/auditor/v1/tenants/acme/incidents'],
    ['GET', '/api/decision/v1/admin/remediations/0193f3c2:approve'],
    ['DELETE', '/api/decision/v1/admin/breaker'],
    // Path tricks: dot segments, encoded slashes, doubled slashes, another upstream.
    ['GET', '/api/auditor/v1/tenants/../api-keys'],
    ['GET', '/api/auditor/v1/tenants/acme%2F..%2F..%2Fapi-keys/incidents'],
    ['GET', '/api/auditor//v1/tenants/acme/incidents'],
    ['GET', '/api/auditor/v1/tenants/acme/incidents/../../../api-keys'],
    ['GET', '/api/executor/health'],
    ['GET', '/api/decision/docs'],
    ['GET', '/api/auditor/v1/tenants/acme/incidents#frag'],
  ])('refuses %s %s', (method, target) => {
    expect(upstreamRoute(method, target)).toBeNull();
  });

  it.each([
    ['GET', false],
    ['HEAD', false],
    ['POST', true],
    ['DELETE', true],
  ])('%s changes state: %s', (method, expected) => {
    expect(changesState(method)).toBe(expected);
  });
});
