import 'reflect-metadata';
import { createLogger } from '@autoheal/telemetry';
import { createAuditorApp } from './auditor.app.js';
import { loadConfig } from './config.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const app = await createAuditorApp(config);
  app.enableShutdownHooks();
  await app.startAllMicroservices();
  await app.listen(config.AUDITOR_PORT);
  createLogger('auditor').info({ port: config.AUDITOR_PORT }, 'auditor listening');
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
