import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamTransport, NATS_CONNECTION, SIGNING_MATERIAL, SignedEventGuard, type SigningMaterial } from '@autoheal/messaging';
import { AuditLogService } from './audit-log/audit-log.service.js';
import { createLogger, PinoNestLogger } from '@autoheal/telemetry';
import { AUDIT_CONSUMERS } from './audit-log/audit-log.consumers.js';
import { auditEventHandler } from './audit-log/audit-log.handler.js';
import { AuditorModule } from './auditor.module.js';
import type { Clock } from './clock.js';
import type { AuditorConfig } from './config.js';
import { mountOpenApi } from './openapi.js';
import { createValidationPipe } from '@autoheal/http';

/**
 * Builds the auditor: REST (audit, verify, docs, health, metrics) plus the three JetStream
 * consumers. Shared by main.ts and the integration tests, so the tests run production's wiring.
 */
export async function createAuditorApp(config: AuditorConfig, options: { clock?: Clock; nestLogs?: boolean } = {}): Promise<INestApplication> {
  const logger = createLogger('auditor');
  const app = await NestFactory.create(AuditorModule.register({ config, clock: options.clock }), {
    logger: options.nestLogs === false ? false : new PinoNestLogger(logger),
  });
  app.useGlobalPipes(createValidationPipe());
  mountOpenApi(app);
  // The auditor owns the trail: an event it refuses is recorded there directly, not published.
  const audit = app.get(AuditLogService);
  const signing = app.get<SigningMaterial>(SIGNING_MATERIAL);
  const provenance = new SignedEventGuard({ trust: signing.trust, onRejected: async (rejection) => void (await audit.recordRejection(rejection, signing.identity)) });
  const record = auditEventHandler(audit);
  app.connectMicroservice({
    strategy: new JetStreamTransport({ connection: app.get<NatsConnection>(NATS_CONNECTION), consumers: AUDIT_CONSUMERS.map((spec) => ({ ...spec, direct: record })), logger, provenance }),
  });
  return app;
}
