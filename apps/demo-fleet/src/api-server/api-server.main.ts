import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { HealthReporter } from '@autoheal/sdk';
import { createLogger } from '../logger.js';
import { loadApiServerConfig } from './api-server.config.js';
import { route, type ApiServerIdentity } from './api-server.routes.js';
import { DEFAULT_DEGRADATION_SETTINGS, degradeMessage, INJECTED_FAILURE, leakBytes, treatRequest, type Degradation } from './degradation.js';
import { promoteMessage } from './spare.js';
import { startSyntheticTraffic } from './synthetic-traffic.js';
import { ThrottleGate, throttleMessage, type ThrottleAck } from './throttle.js';

const LEAK_TICK_MS = 250;

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
    release: config.RELEASE_VERSION,
    pid: process.pid,
    startedAt: new Date(),
  };
  let logger = createLogger('api-server', { tenantId: identity.tenantId, service: identity.service, instance: identity.instance });
  // A warm spare is nobody until promoted: no health reports, no synthetic traffic.
  let spare = config.AUTOHEAL_SPARE === '1';

  // Set by the agent over IPC (chaos errors|slow|leak|resume); a new process starts healthy.
  let degradation: Degradation | null = null;
  const leaked: Buffer[] = [];
  let reporter: HealthReporter | undefined;
  // Set by the agent over IPC (a throttle remediation); /healthz is never throttled, so the
  // agent can still tell the instance is up.
  const gate = new ThrottleGate();

  const server = createServer((req, res) => {
    const started = performance.now();
    const url = req.url ?? '/';
    if (!url.startsWith('/healthz') && !gate.admit(Date.now())) {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: 'throttled' }));
      reporter?.recordRequest(performance.now() - started, true);
      return;
    }
    const treatment = treatRequest(degradation, DEFAULT_DEGRADATION_SETTINGS, url, Math.random());
    const respond = () => {
      const response = treatment.fail ? INJECTED_FAILURE : route(req.method ?? 'GET', url, identity, new Date());
      res.writeHead(response.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(response.body));
      // Every served request feeds the error rate and latency, as a tenant's middleware would.
      reporter?.recordRequest(performance.now() - started, response.status < 500);
    };
    if (treatment.delayMs > 0) setTimeout(respond, treatment.delayMs);
    else respond();
  });
  server.on('error', (error) => {
    logger.fatal({ err: error, port: config.PORT }, 'http server failed');
    process.exit(1);
  });
  let traffic: ReturnType<typeof startSyntheticTraffic> | undefined;
  let listeningPort: number | undefined;
  const startTraffic = () => {
    if (listeningPort !== undefined && !spare) traffic ??= startSyntheticTraffic(`http://127.0.0.1:${listeningPort}/v1/orders`, config.TRAFFIC_RPS);
  };
  server.listen(config.PORT, '127.0.0.1', () => {
    const address = server.address();
    listeningPort = typeof address === 'object' && address ? address.port : config.PORT;
    logger.info({ port: listeningPort, trafficRps: config.TRAFFIC_RPS, spare }, 'api server listening');
    startTraffic();
  });

  // Buffers filled with a non-zero byte: zero-filled pages of a large allocation may never be
  // touched, and RSS (what the reporter measures) would not grow.
  setInterval(() => {
    const bytes = leakBytes(degradation, DEFAULT_DEGRADATION_SETTINGS, LEAK_TICK_MS, process.memoryUsage.rss(), config.MEMORY_LIMIT_BYTES);
    if (bytes > 0) leaked.push(Buffer.alloc(bytes, 1));
  }, LEAK_TICK_MS).unref();

  process.on('message', (message) => {
    const promote = promoteMessage.safeParse(message);
    if (promote.success) {
      if (!spare) return;
      spare = false;
      identity.instance = promote.data.instance;
      logger = createLogger('api-server', { tenantId: identity.tenantId, service: identity.service, instance: identity.instance });
      logger.info('promoted from warm spare');
      startTraffic();
      void startReporting();
      return;
    }
    const throttle = throttleMessage.safeParse(message);
    if (throttle.success) {
      const ack: ThrottleAck = gate.apply(throttle.data, Date.now());
      logger.warn({ remediationId: throttle.data.remediationId, limitPerSecond: throttle.data.limitPerSecond, ack }, 'throttle limit from the agent');
      process.send?.(ack);
      return;
    }
    if ((message as { type?: unknown } | null)?.type === 'autoheal.throttle') {
      const remediationId = (message as { remediationId?: unknown }).remediationId;
      const error = throttle.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      process.send?.({ type: 'autoheal.throttle.ack', remediationId, ok: false, error });
      return;
    }
    const parsed = degradeMessage.safeParse(message);
    if (!parsed.success) {
      logger.warn({ message }, 'ignoring an unknown message from the agent');
      return;
    }
    degradation = parsed.data.degradation;
    // Clearing a leak releases what it retained.
    if (degradation !== 'leak') leaked.length = 0;
    logger.warn({ degradation }, degradation === null ? 'degradation cleared' : 'degrading on purpose (chaos)');
  });

  const startReporting = () => HealthReporter.connect({
    servers: config.NATS_URL,
    nkeySeedFile: config.NATS_NKEY_SEED_FILE,
    tlsCaFile: config.NATS_TLS_CA_FILE,
    tenantId: identity.tenantId,
    service: identity.service,
    instance: identity.instance,
    intervalMs: config.HEARTBEAT_MS,
    metricsIntervalMs: config.METRICS_INTERVAL_MS,
    memoryLimitBytes: config.MEMORY_LIMIT_BYTES,
    onError: (error, { type, consecutiveFailures }) => {
      // One line per outage, not one per heartbeat.
      if (consecutiveFailures === 1 || type === 'health.stopping') logger.warn({ err: error, type }, 'health report not published');
    },
  }).then(
    (connected) => {
      reporter = connected;
      logger.info({ subject: connected.subject, intervalMs: connected.intervalMs, metricsIntervalMs: config.METRICS_INTERVAL_MS }, 'reporting health');
    },
    (error: unknown) => {
      logger.fatal({ err: error }, 'health reporter could not start');
      process.exit(1);
    },
  );
  if (!spare) void startReporting();

  let shuttingDown = false;
  const shutdown = async (reason: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ reason }, 'shutting down');
    traffic?.stop();
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
