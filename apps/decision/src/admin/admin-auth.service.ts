import { Inject, Injectable } from '@nestjs/common';
import { apiKeyId, Authenticator, createOidcVerifier, hashApiKey, oidcConfigFrom, principalOfGrant, type Authentication, type Principal } from '@autoheal/access';
import { CLOCK, type Clock } from '../clock.js';
import type { DecisionConfig } from '../config.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { ApiKeysCache } from './api-keys.cache.js';

/** The actor recorded for what the bootstrap key does. */
export const BOOTSTRAP_ADMIN = 'bootstrap-admin';

/**
 * Who an admin request is: the bootstrap key (DECISION_ADMIN_API_KEY, an admin over every
 * tenant, for first setup and break-glass), a person's API key from the API_KEYS bucket
 * (expired ones refused), or an OIDC token verified against the issuer's JWKS.
 */
@Injectable()
export class AdminAuthService {
  private readonly authenticator: Authenticator;
  private readonly bootstrap: { hash: string; principal: Principal } | null;

  constructor(
    private readonly keys: ApiKeysCache,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DECISION_CONFIG) config: DecisionConfig,
  ) {
    const key = config.DECISION_ADMIN_API_KEY;
    this.bootstrap = key ? { hash: hashApiKey(key), principal: { id: apiKeyId(hashApiKey(key)), subject: BOOTSTRAP_ADMIN, kind: 'api_key', roles: ['admin'], tenantScope: '*' } } : null;
    const oidc = oidcConfigFrom(config);
    this.authenticator = new Authenticator((hash) => this.lookup(hash), oidc ? createOidcVerifier(oidc, { now: () => this.clock.now() }) : null);
  }

  authenticate(authorization: string | string[] | undefined): Promise<Authentication> {
    return this.authenticator.authenticate(authorization);
  }

  private lookup(keyHash: string): Principal | null {
    if (this.bootstrap?.hash === keyHash) return this.bootstrap.principal;
    const grant = this.keys.get(keyHash);
    return grant ? principalOfGrant(grant, this.clock.now()) : null;
  }
}
