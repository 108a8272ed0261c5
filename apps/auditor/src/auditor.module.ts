import { Module, type DynamicModule } from '@nestjs/common';
import { DependencyHealthModule, MessagingModule } from '@autoheal/messaging';
import { PersistenceModule } from '@autoheal/persistence';
import { ObservabilityModule } from '@autoheal/telemetry';
import { AuditLogModule } from './audit-log/audit-log.module.js';
import { IncidentsModule } from './incidents/incidents.module.js';
import { ReportsModule } from './reports/reports.module.js';
import { DEFAULT_REDACTED_FIELDS, redactionSet } from './audit-log/redaction.js';
import { AUDIT_REDACTION, AUDITOR_CONFIG } from './auditor.tokens.js';
import { loadSigningKey } from '@autoheal/security';
import { RowSealer, ROW_SEALER } from './evidence/row-sealer.js';
import { EvidenceModule } from './evidence/evidence.module.js';
import { RetentionModule } from './retention/retention.module.js';
import { CLOCK, systemClock, type Clock } from './clock.js';
import { ConsumerLagSampler } from './consumer-lag/consumer-lag.sampler.js';
import type { AuditorConfig } from './config.js';
import { AUDITOR_APPLICATION_NAME, AUDITOR_SCHEMA } from './data-source.js';
import { auditorMigrations } from './migrations/index.js';

/** Configuration and clock, visible to every feature module. */
@Module({})
class AuditorCoreModule {}

/**
 * No OutboxRelayModule: the auditor publishes nothing (its outbox table exists only because
 * every service's first migration has one).
 */
@Module({})
export class AuditorModule {
  static register(options: { config: AuditorConfig; clock?: Clock }): DynamicModule {
    const { config } = options;
    return {
      module: AuditorModule,
      imports: [
        {
          module: AuditorCoreModule,
          global: true,
          providers: [
            { provide: AUDITOR_CONFIG, useValue: config },
            { provide: CLOCK, useValue: options.clock ?? systemClock },
            { provide: AUDIT_REDACTION, useValue: redactionSet([...DEFAULT_REDACTED_FIELDS, ...config.AUDITOR_REDACT_FIELDS]) },
            // The key the service signs events with also seals rows and signs checkpoints (rotation: libs/security's README).
            { provide: ROW_SEALER, useValue: new RowSealer(loadSigningKey(config.AUTOHEAL_SIGNING_KEY_FILE), options.clock ?? systemClock) },
          ],
          exports: [AUDITOR_CONFIG, CLOCK, AUDIT_REDACTION, ROW_SEALER],
        },
        MessagingModule.forService('auditor', config),
        PersistenceModule.forRoot({ url: config.DATABASE_URL, schema: AUDITOR_SCHEMA, migrations: auditorMigrations, applicationName: AUDITOR_APPLICATION_NAME }),
        ObservabilityModule.forRoot({ service: 'auditor' }),
        DependencyHealthModule,
        EvidenceModule,
        AuditLogModule,
        IncidentsModule,
        ReportsModule,
        RetentionModule,
      ],
      providers: [ConsumerLagSampler],
    };
  }
}
