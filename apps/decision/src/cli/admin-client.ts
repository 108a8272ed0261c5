import type { BacktestReport } from '../backtest/backtest.service.js';
import type { BreakerState, TenantBreakerState } from '../breaker/breaker.repository.js';
import type { BreakerOverview } from '../breaker/breaker.service.js';
import type { TenantVersion } from '../tenants/tenants.repository.js';
import type { ApplyResult } from '../tenants/tenants.service.js';
import type { Connection } from './cli-arguments.js';
import { CliError, CliErrorCode, type ApiDocumentError } from './cli.errors.js';

/** A server type as it arrives over JSON: dates are strings. */
export type Wire<T> = T extends Date ? string : T extends (infer U)[] ? Wire<U>[] : T extends object ? { [K in keyof T]: Wire<T[K]> } : T;

export interface TenantListItem {
  tenantId: string;
  displayName?: string;
  version: string;
  appliedBy: string;
  updatedAt: string;
}

export interface TenantDiff {
  from: string;
  to: string;
  changes: ApplyResult['changes'];
}

export interface ReviewSummary {
  remediationId: string;
  incidentId: string;
  status: string;
  action: string | null;
  reason: string;
}

export type WireBreaker = Wire<BreakerState>;
export type WireBreakerOverview = Wire<BreakerOverview>;
export type WireTenantBreaker = Wire<TenantBreakerState>;

const TIMEOUT_MS = 30_000;

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function documentErrors(body: Record<string, unknown>): ApiDocumentError[] {
  const list = Array.isArray(body.errors) ? body.errors : [];
  return list.filter(isRecord).map((e) => ({ document: typeof e.document === 'number' ? e.document : -1, path: text(e.path) ?? '(root)', message: text(e.message) ?? '' }));
}

/**
 * What an admin API answer means: the body for a 2xx, else a CliError whose code says what to do
 * about it. `body` is undefined when the answer was not JSON (then --url likely names something
 * else). The admin API's own refusals carry a `code`; a 404 without one is Nest's "no such route".
 */
/** Which service a client talks to, for messages that say what to check. */
export interface ServiceTarget {
  name: 'decision' | 'auditor';
  /** The flag and variable that choose its URL. */
  urlSource: string;
}

export const DECISION_TARGET: ServiceTarget = { name: 'decision', urlSource: '--url (or AUTOHEAL_DECISION_URL)' };
export const AUDITOR_TARGET: ServiceTarget = { name: 'auditor', urlSource: '--auditor-url (or AUTOHEAL_AUDITOR_URL)' };

export function interpretResponse(status: number, body: unknown, target: string, service: ServiceTarget = DECISION_TARGET): unknown {
  if (status >= 200 && status < 300 && body !== undefined) return body;
  if (!isRecord(body)) {
    throw new CliError(CliErrorCode.UnexpectedResponse, `${target} answered HTTP ${status} without the API's JSON; is ${service.urlSource} the ${service.name} service?`);
  }
  const code = text(body.code);
  const message = text(body.message) ?? `HTTP ${status}`;
  switch (status) {
    case 401:
      return fail(
        CliErrorCode.Unauthorized,
        code === 'missing_credential' || code === 'missing_api_key'
          ? `the ${service.name} service wants a credential: set AUTOHEAL_ADMIN_KEY to your API key (or an OIDC token)`
          : `the ${service.name} service refused the credential (${code ?? 'unauthorized'}): AUTOHEAL_ADMIN_KEY must be a valid API key or OIDC token (not revoked, not expired)`,
      );
    case 403:
      return fail(CliErrorCode.Forbidden, `your credential may not do this (${code ?? 'forbidden'}): ${message}`);
    case 422:
      throw new CliError(CliErrorCode.InvalidDocuments, message, { documentErrors: documentErrors(body) });
    case 400: {
      const fields = Array.isArray(body.fields) ? body.fields.filter(isRecord).map((f) => `${String(f.field)}: ${Array.isArray(f.messages) ? f.messages.join('; ') : ''}`) : [];
      throw new CliError(CliErrorCode.BadRequest, `the decision service refused the request: ${message}`, { lines: fields });
    }
    case 404:
      if (code) return fail(CliErrorCode.NotFound, message);
      return fail(CliErrorCode.UnexpectedResponse, `${target} has no such route (${message}); is ${service.urlSource} the ${service.name} service, and is it as new as this CLI?`);
    case 409:
      return fail(CliErrorCode.Conflict, message);
    default:
      break;
  }
  return fail(CliErrorCode.UnexpectedResponse, `${target} answered HTTP ${status}: ${message}${code ? ` (${code})` : ''}`);
}

function fail(code: CliErrorCode, message: string): never {
  throw new CliError(code, message);
}

/** Why fetch threw, said so that the operator knows what to check. */
export function unreachableError(error: unknown, url: string, timeoutMs: number, service: ServiceTarget = DECISION_TARGET): CliError {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return new CliError(CliErrorCode.Unreachable, `the ${service.name} service at ${url} did not answer within ${timeoutMs / 1000}s`);
  }
  const why = e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
  return new CliError(CliErrorCode.Unreachable, `cannot reach the ${service.name} service at ${url} (${why}); is it running, and does ${service.urlSource} point at it?`);
}

/** One JSON request to a service's API with the bearer credential; a CliError says what went wrong. */
export async function requestJson<T>(connection: Connection, service: ServiceTarget, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = TIMEOUT_MS): Promise<T> {
  const target = connection.url;
  let response: Response;
  try {
    response = await fetch(`${target}${path}`, {
      method,
      headers: { authorization: `Bearer ${connection.key}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw unreachableError(error, target, timeoutMs, service);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await response.text());
  } catch {
    parsed = undefined;
  }
  return interpretResponse(response.status, parsed, target, service) as T;
}

/** The decision service's admin API over HTTP; one method per route. */
export class AdminClient {
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

  async versions(tenantId: string, limit: number): Promise<{ items: Wire<TenantVersion>[]; next: number | null }> {
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
