import 'reflect-metadata';
import { listenHttp } from '@autoheal/http';
import { createLogger, PinoNestLogger } from '@autoheal/telemetry';
import { loadConfig } from './config.js';
import { startDetectorApp } from './detector.app.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('detector');
  const app = await startDetectorApp(config, { logger: new PinoNestLogger(logger), consumerLogger: logger });
  app.enableShutdownHooks();
  const address = await listenHttp(app, { port: config.DETECTOR_PORT, host: config.HTTP_HOST });
  logger.info({ host: address.address, port: address.port, memberId: config.DETECTOR_MEMBER_ID }, 'detector listening');
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
