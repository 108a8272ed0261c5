import { Module, type DynamicModule } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { SIGNING_MATERIAL, type SigningMaterial } from '@autoheal/messaging';
import { derivedSecret } from '@autoheal/security';
import { parseIngestApiKeys } from './ingest-api-keys.js';
import { IngestAuthGuard } from './ingest-auth.guard.js';
import { IngestBodyReader } from './ingest-body.reader.js';
import { loadIngestConfig } from './ingest.config.js';
import { IngestController } from './ingest.controller.js';
import { IngestService } from './ingest.service.js';
import { IngestQuotas } from './ingest-quotas.js';
import { DetectionService } from '../heartbeat/detection.service.js';
import { INGEST_ALERT_ID_KEY, INGEST_CLOCK, INGEST_CONFIG, INGEST_INSTANCE_ADMISSION, INGEST_KEYRING, INGEST_QUOTAS, type IngestClock, type IngestInstanceAdmission } from './ingest.tokens.js';

const systemClock: IngestClock = { now: () => new Date() };

/**
 * The detection service of the app ingest runs in, looked up when first needed (it belongs to the
 * module that imports this one); none when ingest runs alone, and then the owner of each event's
 * partition applies the quota on the NATS path.
 */
function instanceAdmission(ref: ModuleRef): IngestInstanceAdmission {
  let detection: DetectionService | null | undefined;
  return {
    refusalOf(instance) {
      if (detection === undefined) {
        try {
          detection = ref.get(DetectionService, { strict: false });
        } catch {
          detection = null;
        }
      }
      return detection?.refusalOfNewInstance(instance) ?? null;
    },
  };
}

/**
 * HTTP ingest (`POST /v1/tenants/:tenantId/health-events`, `.../alertmanager`). Needs the
 * global MessagingModule (NATS connection, EventPublisher). Configuration comes from the
 * environment (`DETECTOR_INGEST_*`) and is checked when the module is built.
 */
@Module({})
export class IngestModule {
  static forRoot(env: NodeJS.ProcessEnv = process.env, clock: IngestClock = systemClock): DynamicModule {
    const config = loadIngestConfig(env);
    const keys = parseIngestApiKeys(config.DETECTOR_INGEST_API_KEYS);
    if (!keys.ok) throw new Error(`invalid DETECTOR_INGEST_API_KEYS:\n  ${keys.problems.join('\n  ')}`);
    return {
      module: IngestModule,
      controllers: [IngestController],
      providers: [
        { provide: INGEST_CONFIG, useValue: config },
        { provide: INGEST_KEYRING, useValue: keys.keyring },
        { provide: INGEST_CLOCK, useValue: clock },
        {
          provide: INGEST_QUOTAS,
          useValue: new IngestQuotas(
            {
              maxBodyBytes: config.DETECTOR_INGEST_MAX_BODY_BYTES,
              requestsPerSec: config.DETECTOR_INGEST_REQUESTS_PER_SEC,
              requestBurst: config.DETECTOR_INGEST_REQUEST_BURST,
              bytesPerSec: config.DETECTOR_INGEST_BYTES_PER_SEC,
              byteBurst: config.DETECTOR_INGEST_BYTE_BURST,
              eventsPerSec: config.DETECTOR_INGEST_RATE_PER_SEC,
              eventBurst: config.DETECTOR_INGEST_BURST,
            },
            () => clock.now().getTime(),
          ),
        },
        // Derived from the detector's signing key: stable across restarts and replicas, known to nobody else.
        { provide: INGEST_ALERT_ID_KEY, useFactory: (signing: SigningMaterial) => derivedSecret(signing.key, 'alertmanager event ids'), inject: [SIGNING_MATERIAL] },
        { provide: INGEST_INSTANCE_ADMISSION, useFactory: instanceAdmission, inject: [ModuleRef] },
        IngestService,
        IngestAuthGuard,
        IngestBodyReader,
      ],
    };
  }
}
