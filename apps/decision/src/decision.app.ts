import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamTransport, NATS_CONNECTION } from '@autoheal/messaging';
import { createLogger, PinoNestLogger } from '@autoheal/telemetry';
import type { Clock } from './clock.js';
import type { DecisionConfig } from './config.js';
import { INCIDENTS_CONSUMER, OUTCOMES_CONSUMER } from './decision.consumers.js';
import { DecisionModule } from './decision.module.js';
import { readTenantsFile } from './tenants/tenants-file.js';

/**
 * Builds the decision service: HTTP (health, metrics) plus the JetStream consumers. Shared by
 * main.ts and the integration tests, so the tests run the wiring that production runs. The
 * tenants file is read first: an invalid file stops the boot before anything connects.
 */
export async function createDecisionApp(config: DecisionConfig, options: { clock?: Clock } = {}): Promise<INestApplication> {
  const tenants = readTenantsFile(config.DECISION_TENANTS_FILE);
  const logger = createLogger('decision');
  const app = await NestFactory.create(DecisionModule.register({ config, tenants, clock: options.clock }), { logger: new PinoNestLogger(logger) });
  app.connectMicroservice(
    {
      strategy: new JetStreamTransport({
        connection: app.get<NatsConnection>(NATS_CONNECTION),
        consumers: [INCIDENTS_CONSUMER, OUTCOMES_CONSUMER],
        logger,
      }),
    },
    { inheritAppConfig: true },
  );
  return app;
}
