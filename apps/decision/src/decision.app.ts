import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NatsConnection } from '@nats-io/transport-node';
import { EVENT_PROVENANCE, JetStreamTransport, NATS_CONNECTION, type ProvenanceGuard } from '@autoheal/messaging';
import { createLogger, PinoNestLogger } from '@autoheal/telemetry';
import { mountOpenApi } from './admin/openapi.js';
import { createValidationPipe } from '@autoheal/http';
import type { Clock } from './clock.js';
import type { DecisionConfig } from './config.js';
import { INCIDENTS_CONSUMER, OUTCOMES_CONSUMER } from './decision.consumers.js';
import { DecisionModule } from './decision.module.js';
import type { SecretResolver } from './escalations/deliveries.worker.js';
import { documentsFromTenantsFile, readDocumentsFrom } from './tenants/legacy-tenants.js';
import { validateTenantDocuments } from './planning/policy-port.js';
import { readTenantsFile } from './tenants/tenants-file.js';
import { TenantsError, TenantsErrorCode } from './tenants/tenants.errors.js';

/**
 * The documents to seed at boot: DECISION_TENANTS_DIR when set, else the legacy tenants file
 * converted to documents. Read before anything connects, so an unreadable source stops the boot.
 */
export function bootDocuments(config: DecisionConfig): unknown[] {
  const source = config.DECISION_TENANTS_DIR ?? config.DECISION_TENANTS_FILE;
  const documents = config.DECISION_TENANTS_DIR ? readDocumentsFrom(config.DECISION_TENANTS_DIR) : documentsFromTenantsFile(readTenantsFile(config.DECISION_TENANTS_FILE));
  const validated = validateTenantDocuments(documents);
  if (!validated.ok) {
    throw new TenantsError(
      TenantsErrorCode.InvalidDocuments,
      `${source} holds invalid tenant documents`,
      validated.errors.map((e) => `documents[${e.document}].${e.path}: ${e.message}`),
      validated.errors,
    );
  }
  return documents;
}

/**
 * Builds the decision service: HTTP (admin API, docs, health, metrics) plus the JetStream
 * consumers. Shared by main.ts and the integration tests, so the tests run the wiring that
 * production runs. Invalid boot documents stop the boot with every problem listed.
 */
export async function createDecisionApp(config: DecisionConfig, options: { clock?: Clock; secrets?: SecretResolver; nestLogs?: boolean } = {}): Promise<INestApplication> {
  const documents = bootDocuments(config);
  const logger = createLogger('decision');
  const app = await NestFactory.create(DecisionModule.register({ config, bootDocuments: documents, clock: options.clock, secrets: options.secrets }), {
    logger: options.nestLogs === false ? false : new PinoNestLogger(logger),
  });
  app.useGlobalPipes(createValidationPipe());
  mountOpenApi(app);
  app.connectMicroservice(
    {
      strategy: new JetStreamTransport({
        connection: app.get<NatsConnection>(NATS_CONNECTION),
        consumers: [INCIDENTS_CONSUMER, OUTCOMES_CONSUMER],
        logger,
        provenance: app.get<ProvenanceGuard>(EVENT_PROVENANCE),
      }),
    },
    { inheritAppConfig: true },
  );
  return app;
}
