import { createServer } from 'node:http';
import { HealthReporter } from '@autoheal/sdk';
import { createLogger } from '../logger.js';
import { loadApiServerConfig } from './api-server.config.js';
import { route, type ApiServerIdentity } from './api-server.routes.js';

/**
 * One instance of a tenant's API server: answers HTTP and reports its health through the SDK.
 * HTTP comes up first and does not wait for NATS: the tenant's traffic must not depend on the
 * health channel being up.
 */
function main(): void {
  const config = loadApiServerConfig();
  const identity: ApiServerIdentity = {
    tenantId: config.TENANT_ID,
    service: config.SERVICE,
    instance: config.INSTANCE,
    pid: process.pid,
    startedAt: new Date(),
  };
  const logger = createLogger('api-server', { tenantId: identity.tenantId, service: identity.service, instance: identity.instance });

  const server = createServer((req, res) => {
    const response = route(req.method ?? 'GET', req.url ?? '/', identity, new Date());
    res.writeHead(response.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(response.body));
  });
  server.on('error', (error) => {
    logger.fatal({ err: error, port: config.PORT }, 'http server failed');
    process.exit(1);
  });
  server.listen(config.PORT, '127.0.0.1', () => {
    const address = server.address();
    logger.info({ port: typeof address === 'object' && address ? address.port : config.PORT }, 'api server listening');
  });

  let reporter: HealthReporter | undefined;
  HealthReporter.connect({
    servers: config.NATS_URL,
    tenantId: identity.tenantId,
    service: identity.service,
    instance: identity.instance,
    intervalMs: config.HEARTBEAT_MS,
    onError: (error, { type, consecutiveFailures }) => {
      // One line per outage, not one per heartbeat.
      if (consecutiveFailures === 1 || type === 'health.stopping') logger.warn({ err: error, type }, 'health report not published');
    },
  }).then(
    (connected) => {
      reporter = connected;
      logger.info({ subject: connected.subject, intervalMs: connected.intervalMs }, 'reporting health');
    },
    (error: unknown) => {
      logger.fatal({ err: error }, 'health reporter could not start');
      process.exit(1);
    },
  );

  let shuttingDown = false;
  const shutdown = async (reason: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ reason }, 'shutting down');
    // Announce the planned stop first, so that the silence which follows opens no incident.
    await reporter?.stop(reason);
    server.closeAllConnections();
    server.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('shutdown'));
  process.once('SIGINT', () => void shutdown('shutdown'));
  // Started by the agent with an IPC channel: if the agent goes away, so do we, rather than
  // keeping the port from the instance the next agent starts.
  if (process.send) process.once('disconnect', () => void shutdown('agent gone'));
}

main();
