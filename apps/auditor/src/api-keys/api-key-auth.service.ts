import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AccessErrorCode, Authenticator, authorizationError, createOidcVerifier, oidcConfigFrom, type Permission, type Principal } from '@autoheal/access';
import { createLogger } from '@autoheal/telemetry';
import { AUDITOR_CONFIG } from '../auditor.tokens.js';
import { CLOCK, type Clock } from '../clock.js';
import type { AuditorConfig } from '../config.js';
import { envApiKeys, principalOfRow } from './api-key-records.js';
import { apiKeysRepository as repo } from './api-keys.repository.js';

const log = createLogger('auditor');

export type Authorization = { ok: true; principal: Principal } | { ok: false; code: AccessErrorCode; principal?: Principal; reason: string };

/**
 * Who a request is, and whether it may do what it asks: bootstrap keys from the environment
 * (memory only), people's keys from `auditor.api_keys` (revoked and expired ones refused), and
 * OIDC bearer tokens verified against the issuer's JWKS when AUTOHEAL_OIDC_* is set.
 */
@Injectable()
export class ApiKeyAuthService implements OnModuleInit {
  private readonly envKeys: ReadonlyMap<string, Principal>;
  private readonly authenticator: Authenticator;

  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDITOR_CONFIG) config: AuditorConfig,
  ) {
    this.envKeys = envApiKeys(config);
    const oidc = oidcConfigFrom(config);
    this.authenticator = new Authenticator((hash) => this.lookup(hash), oidc ? createOidcVerifier(oidc, { now: () => this.clock.now() }) : null);
  }

  onModuleInit(): void {
    const keys = [...this.envKeys.values()].map(({ id, subject, roles, tenantScope }) => ({ id, subject, roles, tenantScope }));
    log.info({ keys }, 'bootstrap API keys from the environment loaded');
    if (keys.length === 0) log.warn('no bootstrap API keys (AUDITOR_OPS_API_KEY, AUDITOR_TENANT_API_KEYS): only personal keys and OIDC tokens will work');
  }

  /** Authenticates the bearer of `authorization`, then checks `permission` (on `tenantId` when the route names one; on every tenant with `everyTenant`). */
  async authorize(authorization: string | string[] | undefined, permission: Permission, scope: { tenantId?: string; everyTenant?: boolean }): Promise<Authorization> {
    const authenticated = await this.authenticator.authenticate(authorization);
    if (!authenticated.ok) return authenticated;
    const { principal } = authenticated;
    const code = authorizationError(principal, permission, scope.tenantId) ?? (scope.everyTenant && principal.tenantScope !== '*' ? AccessErrorCode.TenantForbidden : null);
    return code ? { ok: false, code, principal, reason: `${principal.id} may not ${permission}` } : { ok: true, principal };
  }

  private async lookup(keyHash: string): Promise<Principal | null> {
    const fromEnv = this.envKeys.get(keyHash);
    if (fromEnv) return fromEnv;
    const row = await repo.findByHash(this.db.manager, keyHash);
    return row ? principalOfRow(row, this.clock.now()) : null;
  }
}
