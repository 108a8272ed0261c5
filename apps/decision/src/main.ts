import 'reflect-metadata';
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
  await app.listen(config.DECISION_PORT);
  createLogger('decision').info({ port: config.DECISION_PORT }, 'decision listening');
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
