import { createLogger } from '@autoheal/telemetry';
import { loadConfig } from './config.js';
import { createConsoleServer } from './console.server.js';

function main(): void {
  const config = loadConfig();
  const logger = createLogger('console');
  const server = createConsoleServer(config, logger);
  server.listen(config.CONSOLE_PORT, config.HTTP_HOST, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.CONSOLE_PORT;
    logger.info({ host: config.HTTP_HOST, port, auditor: config.AUTOHEAL_AUDITOR_URL, decision: config.AUTOHEAL_DECISION_URL }, 'console listening');
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

try {
  main();
} catch (error) {
  console.error(error);
  process.exit(1);
}
