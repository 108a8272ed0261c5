import { Inject, Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { openReadPool } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import { AUDITOR_CONFIG } from '../auditor.tokens.js';
import type { AuditorConfig } from '../config.js';
import { AUDITOR_SCHEMA } from '../data-source.js';

/** The REST API's own pool (a DataSource), apart from the one the event consumers append through. */
export const AUDIT_READ_DB = Symbol('AUDIT_READ_DB');

export const AUDIT_READ_APPLICATION_NAME = 'autoheal-auditor-reads';

/**
 * Reads of the audit log go through a small pool of their own, logged in as the reader role
 * (SELECT only, row-level security): however many verifications wait for a connection, none of
 * them holds one the appenders need. Without DATABASE_READER_URL the pool logs in as the service's
 * own role — still a pool of its own, with row-level security, but no longer SELECT only — and says so.
 */
export const auditReadPoolProvider: Provider = {
  provide: AUDIT_READ_DB,
  inject: [AUDITOR_CONFIG],
  useFactory: (config: AuditorConfig): Promise<DataSource> =>
    openReadPool({
      readerUrl: config.DATABASE_READER_URL,
      serviceUrl: config.DATABASE_URL,
      onFallback: () =>
        createLogger('auditor').warn(
          'DATABASE_READER_URL is not set: audit reads log in as the DATABASE_URL role (its own pool, row-level security) instead of the SELECT-only autoheal_auditor_reader',
        ),
      schema: AUDITOR_SCHEMA,
      applicationName: AUDIT_READ_APPLICATION_NAME,
      poolMax: config.AUDITOR_READ_POOL_SIZE,
    }),
};

@Injectable()
export class AuditReadPoolLifecycle implements OnApplicationShutdown {
  constructor(@Inject(AUDIT_READ_DB) private readonly db: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.db.isInitialized) await this.db.destroy();
  }
}
