import type { ApiKeyPrincipal } from '../api-keys/api-key.js';
import type { ApiCaller } from './audit-read.service.js';

/** The parts of an Express request a read records about where it came from. */
export interface RequestOrigin {
  method: string;
  originalUrl: string;
  ip?: string;
}

/**
 * Who asks, from where, and whose rows the credential may see. Row-level security is set from the
 * credential's scope: the path's tenant counts only when that scope names it (a tenant outside it
 * matches no row, even if the guard were bypassed).
 */
export function callerOf(principal: ApiKeyPrincipal, tenantId: string, req: RequestOrigin): ApiCaller {
  return {
    actor: principal.id,
    source: `${req.method} ${req.originalUrl.split('?')[0]} from ${req.ip ?? 'unknown'}`,
    scope: principal.tenantScope === '*' ? { kind: 'all' } : { kind: 'tenant', tenantId: principal.tenantScope.includes(tenantId) ? tenantId : '' },
  };
}
