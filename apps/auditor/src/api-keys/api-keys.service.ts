import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { createLogger } from '@autoheal/telemetry';
import { AUDITOR_CONFIG } from '../auditor.tokens.js';
import { CLOCK, type Clock } from '../clock.js';
import type { AuditorConfig } from '../config.js';
import { apiKeyId, bearerToken, hashApiKey, mayReadTenant, type ApiKeyPrincipal, type ApiKeyScope } from './api-key.js';
import { ApiKeyErrorCode } from './api-keys.errors.js';
import { apiKeysRepository as repo, type ApiKeyRecord } from './api-keys.repository.js';

const log = createLogger('auditor');

export type Authorization = { ok: true; principal: ApiKeyPrincipal } | { ok: false; code: ApiKeyErrorCode };

/** The keys named in the environment, as rows. */
export function envApiKeys(config: Pick<AuditorConfig, 'AUDITOR_OPS_API_KEY' | 'AUDITOR_TENANT_API_KEYS'>): ApiKeyRecord[] {
  const record = (key: string, scope: ApiKeyScope, tenantId: string | null, label: string): ApiKeyRecord => {
    const keyHash = hashApiKey(key);
    return { id: apiKeyId(keyHash), keyHash, scope, tenantId, label, origin: 'env' };
  };
  const keys = config.AUDITOR_TENANT_API_KEYS.map((k) => record(k.key, 'tenant', k.tenantId, `AUDITOR_TENANT_API_KEYS ${k.tenantId}`));
  if (config.AUDITOR_OPS_API_KEY) keys.unshift(record(config.AUDITOR_OPS_API_KEY, 'ops', null, 'AUDITOR_OPS_API_KEY'));
  return keys;
}

/** Bearer API keys: bootstrapped from the environment at boot, checked on every request. */
@Injectable()
export class ApiKeysService implements OnModuleInit {
  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
  ) {}

  /** Before the HTTP server listens: the keys in the environment work from the first request. */
  async onModuleInit(): Promise<void> {
    const keys = envApiKeys(this.config);
    const revoked = await this.inTransaction(async (m) => {
      for (const key of keys) await repo.upsert(m, key);
      return repo.revokeEnvKeysExcept(
        m,
        keys.map((k) => k.keyHash),
        this.clock.now(),
      );
    });
    log.info({ keys: keys.map((k) => ({ id: k.id, scope: k.scope, tenantId: k.tenantId })), revoked }, 'API keys from the environment loaded');
    if (keys.length === 0) log.warn('no API keys configured (AUDITOR_OPS_API_KEY, AUDITOR_TENANT_API_KEYS): the REST API will refuse every request');
  }

  /** Decides whether the bearer of `authorization` may read `tenantId`'s audit log. */
  async authorize(authorization: string | string[] | undefined, tenantId: string): Promise<Authorization> {
    const token = bearerToken(authorization);
    if (!token) return { ok: false, code: ApiKeyErrorCode.MissingApiKey };
    const principal = await repo.findActiveByHash(this.db.manager, hashApiKey(token));
    if (!principal) return { ok: false, code: ApiKeyErrorCode.UnknownApiKey };
    if (!mayReadTenant(principal, tenantId)) return { ok: false, code: ApiKeyErrorCode.TenantForbidden };
    return { ok: true, principal };
  }

  private inTransaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(async (m) => {
      if (this.config.AUDITOR_DB_ROLE) await m.query(`SET LOCAL ROLE "${this.config.AUDITOR_DB_ROLE}"`);
      return work(m);
    });
  }
}
