import { apiKeyId, hashApiKey, SYSTEM_TRAIL_ID, type ApiKeyGrant, type Principal, type RefusalRecord, type TenantScope } from '@autoheal/access';
import { ACCESS_REFUSED, type AuditEntry } from '../audit-log/audit-entry.js';
import type { AuditorConfig } from '../config.js';
import type { ApiKeyRow } from './api-keys.repository.js';

/** Plain functions over key rows: what is active, what the bucket holds, what the trail records. */

export function isActive(row: Pick<ApiKeyRow, 'revokedAt' | 'expiresAt'>, now: Date): boolean {
  return row.revokedAt === null && (row.expiresAt === null || row.expiresAt.getTime() > now.getTime());
}

export function principalOfRow(row: ApiKeyRow, now: Date): Principal | null {
  return isActive(row, now) ? { id: row.id, subject: row.subject, kind: 'api_key', roles: row.roles, tenantScope: row.tenantScope } : null;
}

export function grantOf(row: ApiKeyRow): ApiKeyGrant {
  return { id: row.id, subject: row.subject, roles: row.roles, tenantScope: row.tenantScope, expiresAt: row.expiresAt?.toISOString() ?? null };
}

/**
 * Bootstrap keys from the environment, held in memory only (a key removed from the environment
 * stops working at the next boot) and never published to the bucket:
 * - AUDITOR_OPS_API_KEY is an admin over every tenant — it exists to create the first personal keys;
 * - each AUDITOR_TENANT_API_KEYS entry is a viewer of its tenant (a SIEM reading its trail).
 */
export function envApiKeys(config: Pick<AuditorConfig, 'AUDITOR_OPS_API_KEY' | 'AUDITOR_TENANT_API_KEYS'>): Map<string, Principal> {
  const keys = new Map<string, Principal>();
  if (config.AUDITOR_OPS_API_KEY) {
    const hash = hashApiKey(config.AUDITOR_OPS_API_KEY);
    keys.set(hash, { id: apiKeyId(hash), subject: 'bootstrap-ops', kind: 'api_key', roles: ['admin'], tenantScope: '*' });
  }
  for (const { tenantId, key } of config.AUDITOR_TENANT_API_KEYS) {
    const hash = hashApiKey(key);
    keys.set(hash, { id: apiKeyId(hash), subject: `bootstrap-tenant-${tenantId}`, kind: 'api_key', roles: ['viewer'], tenantScope: [tenantId] });
  }
  return keys;
}

/** The trails a change to a key is recorded in: each tenant of its scope, or the system trail for every tenant. */
export function trailsOf(scope: TenantScope): string[] {
  return scope === '*' ? [SYSTEM_TRAIL_ID] : [...scope];
}

export type KeyChange = 'created' | 'revoked' | 'expired';

/** Who changed a key, from where, and when; `eventId` makes one id per trail row. */
export interface KeyChangeContext {
  actor: Principal;
  source: string;
  at: Date;
  eventId: () => string;
}

/** The audit rows of one change to a key: one per trail of its scope. The actor is the credential's, never a body field. */
export function keyChangeEntries(change: KeyChange, row: ApiKeyRow, ctx: KeyChangeContext): AuditEntry[] {
  const payload = {
    apiKeyId: row.id,
    subject: row.subject,
    roles: row.roles,
    tenantScope: row.tenantScope === '*' ? '*' : [...row.tenantScope],
    expiresAt: row.expiresAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    actorId: ctx.actor.id,
    actorKind: ctx.actor.kind,
  };
  return trailsOf(row.tenantScope).map((tenantId) => ({
    tenantId,
    eventId: ctx.eventId(),
    eventType: `access.api_key_${change}`,
    occurredAt: ctx.at.toISOString(),
    actor: ctx.actor.subject,
    action: `api_key.${change === 'created' ? 'create' : change === 'revoked' ? 'revoke' : 'expire'}`,
    outcome: 'success',
    resource: { apiKeyId: row.id },
    source: ctx.source,
    correlationId: null,
    causationId: null,
    payload,
  }));
}

/**
 * The row recording refused requests of one origin within one window. Refusals go to the system
 * trail: the tenant in a refused request's path is the caller's claim, and recording it there
 * would let anyone start a chain for any name.
 */
export function refusalEntry(record: RefusalRecord, eventId: string): AuditEntry {
  return {
    tenantId: SYSTEM_TRAIL_ID,
    eventId,
    eventType: ACCESS_REFUSED,
    occurredAt: record.lastAt.toISOString(),
    actor: record.origin,
    action: record.status === 401 ? 'api.authenticate' : 'api.authorize',
    outcome: 'refused',
    resource: { api: 'auditor' },
    source: 'auditor REST API',
    correlationId: null,
    causationId: null,
    payload: { code: record.code, status: record.status, count: record.count, firstAt: record.firstAt.toISOString(), lastAt: record.lastAt.toISOString(), windowStart: record.windowStart.toISOString() },
  };
}

/** What the bucket must change to hold exactly the active keys (the database is the source of truth). */
export function reconcilePlan(active: readonly ApiKeyRow[], inBucket: Iterable<string>): { put: ApiKeyRow[]; remove: string[] } {
  const wanted = new Set(active.map((r) => r.keyHash));
  return { put: [...active], remove: [...inBucket].filter((hash) => !wanted.has(hash)) };
}
