import { createHash, randomBytes } from 'node:crypto';

export type ApiKeyScope = 'ops' | 'tenant';

/** Who a request authenticated as. Ops keys see every tenant; a tenant key sees its own. */
export interface ApiKeyPrincipal {
  id: string;
  scope: ApiKeyScope;
  tenantId: string | null;
}

/** Keys are stored only as sha256: the database never holds a usable secret. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * A key's id (the audit actor) is derived from its hash, so it is stable across restarts and
 * replicas for the same key, and reveals nothing usable about the secret.
 */
export function apiKeyId(keyHash: string): string {
  return `ak_${keyHash.slice(0, 16)}`;
}

export function generateApiKey(scope: ApiKeyScope): string {
  return `${scope === 'ops' ? 'ops' : 'tnt'}_${randomBytes(32).toString('base64url')}`;
}

/** The secret from an `Authorization: Bearer <key>` header; null when absent or malformed. */
export function bearerToken(header: string | string[] | undefined): string | null {
  if (typeof header !== 'string') return null;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match ? match[1] : null;
}

export function mayReadTenant(principal: ApiKeyPrincipal, tenantId: string): boolean {
  switch (principal.scope) {
    case 'ops':
      return true;
    case 'tenant':
      return principal.tenantId === tenantId;
    default: {
      const unreachable: never = principal.scope;
      throw new Error(`unknown API key scope ${String(unreachable)}`);
    }
  }
}
