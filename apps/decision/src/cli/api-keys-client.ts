import type { Role } from '@autoheal/access';
import { AUDITOR_TARGET, requestJson } from './admin-client.js';
import type { Connection } from './cli-arguments.js';

/** A key as the auditor lists it (never its secret). */
export interface WireApiKey {
  id: string;
  subject: string;
  roles: Role[];
  tenantScope: '*' | string[];
  label: string;
  origin: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface NewApiKey {
  subject: string;
  roles: Role[];
  tenantScope: '*' | string[];
  expiresAt?: string;
  label?: string;
}

/** People's API keys, owned by the auditor: its /v1/api-keys routes over HTTP (the CLI never writes a database). */
export class ApiKeysClient {
  constructor(private readonly connection: Connection) {}

  create(key: NewApiKey): Promise<WireApiKey & { key: string }> {
    return requestJson(this.connection, AUDITOR_TARGET, 'POST', '/v1/api-keys', key);
  }

  list(limit: number, after?: string): Promise<{ items: WireApiKey[]; next: string | null }> {
    const query = new URLSearchParams({ limit: String(limit), ...(after ? { after } : {}) });
    return requestJson(this.connection, AUDITOR_TARGET, 'GET', `/v1/api-keys?${query.toString()}`);
  }

  revoke(id: string): Promise<WireApiKey> {
    return requestJson(this.connection, AUDITOR_TARGET, 'POST', `/v1/api-keys/${encodeURIComponent(id)}:revoke`, {});
  }

  expire(id: string, at?: string): Promise<WireApiKey> {
    return requestJson(this.connection, AUDITOR_TARGET, 'POST', `/v1/api-keys/${encodeURIComponent(id)}:expire`, at ? { at } : {});
  }
}
