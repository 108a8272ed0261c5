import type { Connection } from './connection.js';
import { AUDITOR_TARGET, requestJson } from './http.js';
import type { AuditItem, AuditVerification, IncidentItem, NewApiKey, Page, PendingApproval, RemediationItem, Timeline, WireApiKey } from './wire.js';

/** Query parameters, leaving out those not given. */
function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) q.set(name, String(value));
  return q.size > 0 ? `?${q.toString()}` : '';
}

export interface PageQuery {
  limit?: number;
  cursor?: string;
}

export interface AuditListQuery extends PageQuery {
  type?: string;
  from?: string;
  to?: string;
  correlationId?: string;
}

export interface IncidentListQuery extends PageQuery {
  status?: string;
  kind?: string;
  service?: string;
  instance?: string;
  from?: string;
  to?: string;
}

export interface RemediationListQuery extends PageQuery {
  status?: string;
  action?: string;
  service?: string;
  from?: string;
  to?: string;
}

/**
 * The auditor's API over HTTP (the CLI never reads or writes a database): people's API keys,
 * which it owns, and the tenant's audit trail with the incident views built on it.
 */
export class AuditorClient {
  constructor(private readonly connection: Connection) {}

  createApiKey(key: NewApiKey): Promise<WireApiKey & { key: string }> {
    return requestJson(this.connection, AUDITOR_TARGET, 'POST', '/v1/api-keys', key);
  }

  listApiKeys(limit: number, after?: string): Promise<{ items: WireApiKey[]; next: string | null }> {
    return requestJson(this.connection, AUDITOR_TARGET, 'GET', `/v1/api-keys${query({ limit, after })}`);
  }

  revokeApiKey(id: string): Promise<WireApiKey> {
    return requestJson(this.connection, AUDITOR_TARGET, 'POST', `/v1/api-keys/${encodeURIComponent(id)}:revoke`, {});
  }

  expireApiKey(id: string, at?: string): Promise<WireApiKey> {
    return requestJson(this.connection, AUDITOR_TARGET, 'POST', `/v1/api-keys/${encodeURIComponent(id)}:expire`, at ? { at } : {});
  }

  auditPage(tenantId: string, q: AuditListQuery): Promise<Page<AuditItem>> {
    return requestJson(this.connection, AUDITOR_TARGET, 'GET', `${tenantPath(tenantId)}/audit${query({ ...q })}`);
  }

  verifyAudit(tenantId: string, full: boolean): Promise<AuditVerification> {
    return requestJson(this.connection, AUDITOR_TARGET, 'GET', `${tenantPath(tenantId)}/audit/verify${query({ full: full || undefined })}`, undefined, 120_000);
  }

  /** The bundle's files by name; an export may take a while (the auditor signs a manifest over every row). */
  exportAudit(tenantId: string, range: { from?: string; to?: string }): Promise<{ files: Record<string, string> }> {
    return requestJson(this.connection, AUDITOR_TARGET, 'GET', `${tenantPath(tenantId)}/audit/export${query(range)}`, undefined, 120_000);
  }

  incidents(tenantId: string, q: IncidentListQuery): Promise<Page<IncidentItem>> {
    return requestJson(this.connection, AUDITOR_TARGET, 'GET', `${tenantPath(tenantId)}/incidents${query({ ...q })}`);
  }

  timeline(tenantId: string, incidentId: string): Promise<Timeline> {
    return requestJson(this.connection, AUDITOR_TARGET, 'GET', `${tenantPath(tenantId)}/incidents/${encodeURIComponent(incidentId)}/timeline`);
  }

  remediations(tenantId: string, q: RemediationListQuery): Promise<Page<RemediationItem>> {
    return requestJson(this.connection, AUDITOR_TARGET, 'GET', `${tenantPath(tenantId)}/remediations${query({ ...q })}`);
  }

  pendingApprovals(tenantId: string, q: PageQuery): Promise<Page<PendingApproval>> {
    return requestJson(this.connection, AUDITOR_TARGET, 'GET', `${tenantPath(tenantId)}/approvals/pending${query({ ...q })}`);
  }
}

function tenantPath(tenantId: string): string {
  return `/v1/tenants/${encodeURIComponent(tenantId)}`;
}
