import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { createLogger } from '@autoheal/telemetry';
import { TENANT_PROFILES } from '../decision.tokens.js';
import { policyVersionOf } from './policy-version.js';
import type { TenantProfile } from './tenant-profile.js';
import { tenantsRepository } from './tenants.repository.js';

const log = createLogger('decision');

/**
 * Stores the tenant profiles of the tenants file at boot. Decisions read profiles from the
 * database inside their own transaction, so every decision process uses the same profile
 * and records the version it used. Rows are upserted, never deleted: during a rollout several
 * decision processes may boot with different files, and one must not erase another's tenants.
 */
@Injectable()
export class TenantsService implements OnModuleInit {
  constructor(
    private readonly db: DataSource,
    @Inject(TENANT_PROFILES) private readonly profiles: TenantProfile[],
  ) {}

  async onModuleInit(): Promise<void> {
    const tenants = this.profiles.map((profile) => ({ tenantId: profile.tenantId, profile, policyVersion: policyVersionOf(profile) }));
    await this.db.transaction((m) => tenantsRepository.upsertMany(m, tenants));
    log.info({ tenants: tenants.map((t) => `${t.tenantId}@${t.policyVersion}`) }, 'tenant profiles loaded');
  }
}
