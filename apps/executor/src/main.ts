import 'reflect-metadata';
import { createLogger } from '@autoheal/telemetry';
import { loadConfig } from './config.js';
import { createExecutorApp } from './executor.app.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const app = await createExecutorApp(config);
  app.enableShutdownHooks();
  // Module init first (profiles stored, outbox relay running), then the consumers, then HTTP.
  await app.init();
  await app.startAllMicroservices();
  await app.listen(config.EXECUTOR_PORT);
  createLogger('executor').info({ port: config.EXECUTOR_PORT }, 'executor listening');
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
