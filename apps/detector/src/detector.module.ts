import { Module, type DynamicModule } from '@nestjs/common';
import { DependencyHealthModule, MessagingModule, OutboxRelayModule } from '@autoheal/messaging';
import { PersistenceModule } from '@autoheal/persistence';
import { ObservabilityModule } from '@autoheal/telemetry';
import { CLOCK, systemClock } from './clock.js';
import type { DetectorConfig } from './config.js';
import { DETECTOR_SCHEMA } from './data-source.js';
import { DETECTOR_CONFIG, RULES_FILE } from './detector.tokens.js';
import { DetectionService } from './heartbeat/detection.service.js';
import { IncidentsService } from './incidents/incidents.service.js';
import { IngestModule } from './ingest/ingest.module.js';
import { detectorMigrations } from './migrations/index.js';
import { loadRulesFile } from './signals/rules-file.js';

@Module({})
export class DetectorModule {
  static register(config: DetectorConfig): DynamicModule {
    return {
      module: DetectorModule,
      imports: [
        MessagingModule.forService('detector', config),
        PersistenceModule.forRoot({ url: config.DATABASE_URL, schema: DETECTOR_SCHEMA, migrations: detectorMigrations, applicationName: 'autoheal-detector' }),
        OutboxRelayModule.forRoot({ schema: DETECTOR_SCHEMA }),
        ObservabilityModule.forRoot({ service: 'detector' }),
        DependencyHealthModule,
        IngestModule.forRoot(),
      ],
      providers: [
        { provide: DETECTOR_CONFIG, useValue: config },
        { provide: CLOCK, useValue: systemClock },
        // Read and validated while the module is built: a bad rules file stops the boot.
        { provide: RULES_FILE, useValue: loadRulesFile(config.DETECTOR_RULES_FILE) },
        IncidentsService,
        DetectionService,
      ],
    };
  }
}
