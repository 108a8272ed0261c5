import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamTransport, NATS_CONNECTION } from '@autoheal/messaging';
import { createLogger, PinoNestLogger } from '@autoheal/telemetry';
import { loadConfig } from './config.js';
import { DetectorModule } from './detector.module.js';
import { HEALTH_CONSUMER } from './heartbeat/health-events.handler.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('detector');
  const app = await NestFactory.create(DetectorModule.register(config), { logger: new PinoNestLogger(logger) });
  app.enableShutdownHooks();
  app.connectMicroservice(
    { strategy: new JetStreamTransport({ connection: app.get<NatsConnection>(NATS_CONNECTION), consumers: [HEALTH_CONSUMER], logger }) },
    { inheritAppConfig: true },
  );
  // Module init first (state restored, outbox relay running), then the consumer, then HTTP.
  await app.init();
  await app.startAllMicroservices();
  await app.listen(config.DETECTOR_PORT);
  logger.info({ port: config.DETECTOR_PORT }, 'detector listening');
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
