import type { INestApplication, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamTransport, NATS_CONNECTION, type ConsumerLogger, type TransportConsumerSpec } from '@autoheal/messaging';
import type { DetectorConfig } from './config.js';
import { DetectorModule } from './detector.module.js';
import { DetectionService } from './heartbeat/detection.service.js';
import { healthConsumerSpec } from './heartbeat/health-consumer.js';
import { healthEventHandler } from './heartbeat/health-events.handler.js';

export interface DetectorAppOptions {
  /** Nest's logger; false for none (tests). */
  logger?: LoggerService | false;
  /** The consumer's logger (invalid events, retries). */
  consumerLogger?: ConsumerLogger;
}

/**
 * Builds and starts the detector without listening on HTTP: module init first (partitions
 * taken over, outbox relay running), then the health consumer. Shared by main.ts and the
 * integration tests, so the tests run the wiring that production runs.
 */
export async function startDetectorApp(config: DetectorConfig, options: DetectorAppOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create(DetectorModule.register(config), { logger: options.logger ?? false });
  const detection = app.get(DetectionService);
  // Health events of partitions this detector does not own are acknowledged unread; the rest go
  // straight to the detection service (see healthEventHandler).
  const consumer: TransportConsumerSpec = { ...healthConsumerSpec(config), accept: (subject: string) => detection.acceptsSubject(subject), direct: healthEventHandler(detection) };
  app.connectMicroservice(
    { strategy: new JetStreamTransport({ connection: app.get<NatsConnection>(NATS_CONNECTION), consumers: [consumer], logger: options.consumerLogger }) },
    { inheritAppConfig: true },
  );
  await app.init();
  await app.startAllMicroservices();
  return app;
}
