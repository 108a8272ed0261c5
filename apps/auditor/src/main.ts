import 'reflect-metadata';
import { listenHttp } from '@autoheal/http';
import { createLogger } from '@autoheal/telemetry';
import { createAuditorApp } from './auditor.app.js';
import { loadConfig } from './config.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const app = await createAuditorApp(config);
  app.enableShutdownHooks();
  await app.startAllMicroservices();
  const address = await listenHttp(app, { port: config.AUDITOR_PORT, host: config.HTTP_HOST });
  createLogger('auditor').info({ host: address.address, port: address.port }, 'auditor listening');
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
