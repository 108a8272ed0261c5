import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { createLogger } from '@autoheal/telemetry';
import { AUDITOR_CONFIG } from '../auditor.tokens.js';
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

/**
 * Bearer API keys: those named in the environment, held in memory (a key removed from the
 * environment stops working at the next boot), and those created with the api-keys CLI, read
 * from `auditor.api_keys`. The service's database role may read that table and not change it.
 */
@Injectable()
export class ApiKeysService implements OnModuleInit {
  private readonly envKeys: ReadonlyMap<string, ApiKeyPrincipal>;

  constructor(
    private readonly db: DataSource,
    @Inject(AUDITOR_CONFIG) config: AuditorConfig,
  ) {
    this.envKeys = new Map(envApiKeys(config).map((k) => [k.keyHash, { id: k.id, scope: k.scope, tenantId: k.tenantId }]));
  }

  onModuleInit(): void {
    const keys = [...this.envKeys.values()];
    log.info({ keys }, 'API keys from the environment loaded');
    if (keys.length === 0) log.warn('no API keys configured (AUDITOR_OPS_API_KEY, AUDITOR_TENANT_API_KEYS): only keys created with the api-keys CLI will work');
  }

  /** Decides whether the bearer of `authorization` may read `tenantId`'s audit log. */
  async authorize(authorization: string | string[] | undefined, tenantId: string): Promise<Authorization> {
    const token = bearerToken(authorization);
    if (!token) return { ok: false, code: ApiKeyErrorCode.MissingApiKey };
    const keyHash = hashApiKey(token);
    const principal = this.envKeys.get(keyHash) ?? (await repo.findActiveByHash(this.db.manager, keyHash));
    if (!principal) return { ok: false, code: ApiKeyErrorCode.UnknownApiKey };
    if (!mayReadTenant(principal, tenantId)) return { ok: false, code: ApiKeyErrorCode.TenantForbidden };
    return { ok: true, principal };
  }
}
