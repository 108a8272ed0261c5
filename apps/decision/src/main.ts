import 'reflect-metadata';
import { listenHttp } from '@autoheal/http';
import { createLogger } from '@autoheal/telemetry';
import { loadConfig } from './config.js';
import { createDecisionApp } from './decision.app.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const app = await createDecisionApp(config);
  app.enableShutdownHooks();
  // Module init first (profiles stored, outbox relay running), then the consumers, then HTTP.
  await app.init();
  await app.startAllMicroservices();
  const address = await listenHttp(app, { port: config.DECISION_PORT, host: config.HTTP_HOST });
  createLogger('decision').info({ host: address.address, port: address.port }, 'decision listening');
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
