import 'reflect-metadata';
import { createLogger, PinoNestLogger } from '@autoheal/telemetry';
import { loadConfig } from './config.js';
import { startDetectorApp } from './detector.app.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('detector');
  const app = await startDetectorApp(config, { logger: new PinoNestLogger(logger), consumerLogger: logger });
  app.enableShutdownHooks();
  await app.listen(config.DETECTOR_PORT);
  logger.info({ port: config.DETECTOR_PORT, memberId: config.DETECTOR_MEMBER_ID }, 'detector listening');
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
