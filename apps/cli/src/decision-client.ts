import type { Connection } from './connection.js';
import { DECISION_TARGET, requestJson } from './http.js';
import type { ApplyResult, BacktestReport, ReviewSummary, TenantDiff, TenantListItem, WireBreaker, WireBreakerOverview, WireTenantBreaker, WireTenantVersion } from './wire.js';

const TIMEOUT_MS = 30_000;

/** The decision service's admin API over HTTP; one method per route. */
export class DecisionClient {
  constructor(
    private readonly connection: Connection,
    private readonly timeoutMs = TIMEOUT_MS,
  ) {}

  /** Recorded as applied by the credential's subject. */
  async applyTenants(documents: unknown[]): Promise<{ results: ApplyResult[] }> {
    return this.request('POST', '/v1/admin/tenants:apply', { documents });
  }

  async listTenants(): Promise<{ items: TenantListItem[] }> {
    return this.request('GET', '/v1/admin/tenants');
  }

  /** The tenant's current document as stored (document, version, who applied it). */
  async show(tenantId: string): Promise<Record<string, unknown>> {
    return this.request('GET', `/v1/admin/tenants/${encodeURIComponent(tenantId)}`);
  }

  async versions(tenantId: string, limit: number): Promise<{ items: WireTenantVersion[]; next: number | null }> {
    return this.request('GET', `/v1/admin/tenants/${encodeURIComponent(tenantId)}/versions?limit=${limit}`);
  }

  async diff(tenantId: string, from: string, to?: string): Promise<TenantDiff> {
    const query = new URLSearchParams({ from, ...(to !== undefined ? { to } : {}) });
    return this.request('GET', `/v1/admin/tenants/${encodeURIComponent(tenantId)}/diff?${query.toString()}`);
  }

  async backtest(tenantId: string, document: unknown, since?: Date): Promise<BacktestReport> {
    return this.request('POST', `/v1/admin/tenants/${encodeURIComponent(tenantId)}/backtest`, { document, ...(since ? { since: since.toISOString() } : {}) });
  }

  /** Recorded as settled by the credential's subject. */
  async review(verdict: 'approve' | 'reject', remediationId: string, reason: string): Promise<ReviewSummary> {
    return this.request('POST', `/v1/admin/remediations/${encodeURIComponent(remediationId)}:${verdict}`, { reason });
  }

  /** The global breaker and the tenant breakers in the credential's scope. */
  async breaker(): Promise<WireBreakerOverview> {
    return this.request('GET', '/v1/admin/breaker');
  }

  async resumeBreaker(reason: string): Promise<WireBreaker & { resumed: boolean }> {
    return this.request('POST', '/v1/admin/breaker:resume', { reason });
  }

  /** Recorded as resumed by the credential's subject. */
  async resumeTenantBreaker(tenantId: string, reason: string): Promise<WireTenantBreaker & { resumed: boolean }> {
    return this.request('POST', `/v1/admin/breaker/tenants/${encodeURIComponent(tenantId)}:resume`, { reason });
  }

  private request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    return requestJson<T>(this.connection, DECISION_TARGET, method, path, body, this.timeoutMs);
  }
}
