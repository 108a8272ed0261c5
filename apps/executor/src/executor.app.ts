import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NatsConnection } from '@nats-io/transport-node';
import { EVENT_PROVENANCE, JetStreamTransport, NATS_CONNECTION, type ProvenanceGuard } from '@autoheal/messaging';
import { createLogger, PinoNestLogger } from '@autoheal/telemetry';
import type { Clock } from './clock.js';
import type { ExecutorConfig } from './config.js';
import { remediationsConsumer } from './executor.consumers.js';
import { ExecutorModule } from './executor.module.js';
import type { SecretResolver } from './secrets.js';

/**
 * Builds the executor: HTTP (health, metrics, runbook callbacks) plus the JetStream consumer. Shared by main.ts
 * and the integration tests, so the tests run the wiring that production runs.
 */
export async function createExecutorApp(config: ExecutorConfig, options: { clock?: Clock; secrets?: SecretResolver } = {}): Promise<INestApplication> {
  const logger = createLogger('executor');
  const app = await NestFactory.create(ExecutorModule.register({ config, clock: options.clock, secrets: options.secrets }), {
    logger: new PinoNestLogger(logger),
    // Runbook callbacks are verified over the exact bytes the runbook signed.
    rawBody: true,
  });
  app.connectMicroservice(
    {
      strategy: new JetStreamTransport({
        connection: app.get<NatsConnection>(NATS_CONNECTION),
        consumers: [remediationsConsumer(config)],
        logger,
        provenance: app.get<ProvenanceGuard>(EVENT_PROVENANCE),
      }),
    },
    { inheritAppConfig: true },
  );
  return app;
}
