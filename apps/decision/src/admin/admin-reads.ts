import { Inject, Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import type { TenantScope } from '@autoheal/access';
import { openReadPool, readInTenantScope } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import type { DecisionConfig } from '../config.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { DECISION_CONFIG } from '../decision.tokens.js';

/** The admin API's own pool (a DataSource), apart from the one the service plans and writes through. */
export const ADMIN_READ_DB = Symbol('ADMIN_READ_DB');

export const ADMIN_READ_APPLICATION_NAME = 'autoheal-decision-admin-reads';

export const adminReadPoolProvider: Provider = {
  provide: ADMIN_READ_DB,
  inject: [DECISION_CONFIG],
  useFactory: (config: DecisionConfig): Promise<DataSource> =>
    openReadPool({
      readerUrl: config.DATABASE_READER_URL,
      serviceUrl: config.DATABASE_URL,
      onFallback: () =>
        createLogger('decision').warn(
          'DATABASE_READER_URL is not set: admin API reads log in as the DATABASE_URL role (its own pool, row-level security does not hold it) instead of the SELECT-only autoheal_decision_reader',
        ),
      schema: DECISION_SCHEMA,
      applicationName: ADMIN_READ_APPLICATION_NAME,
      poolMax: config.DECISION_READ_POOL_SIZE,
    }),
};

/**
 * The admin API's reads: each one a short transaction on the read pool (ADMIN_READ_DB, logged in
 * as `autoheal_decision_reader`), scoped by row-level security to the credential's tenants — for a
 * tenant the request is about, that tenant if the scope covers it; for a read across tenants, every
 * tenant of the scope. A query that forgets its tenant filter still returns nothing of another tenant.
 * The admin API's writes go through the service's pool, after the guard checked the scope.
 */
@Injectable()
export class AdminReads implements OnApplicationShutdown {
  constructor(@Inject(ADMIN_READ_DB) private readonly db: DataSource) {}

  read<T>(scope: TenantScope, tenantId: string | null, work: (m: EntityManager) => Promise<T>): Promise<T> {
    return readInTenantScope(this.db, scope, tenantId, work);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.db.isInitialized) await this.db.destroy();
  }
}
