import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { acceptSupervisorCommands, AdmissionGate, HealthReporter, nodeHttpAdmission, SUPERVISOR_COMMAND_TYPES } from '@autoheal/sdk';
import { createLogger } from '../logger.js';
import { loadApiServerConfig } from './api-server.config.js';
import { route, type ApiServerIdentity } from './api-server.routes.js';
import { DEFAULT_DEGRADATION_SETTINGS, degradeMessage, INJECTED_FAILURE, leakBytes, treatRequest, type Degradation } from './degradation.js';
import { ArrivalRate, busyMsFor, DEFAULT_OVERLOAD_SETTINGS, holdEventLoop, loadedRouteOf, queueDelayMs, type LoadedRoute, type OverloadSettings } from './overload.js';
import { promoteMessage } from './spare.js';
import { startSyntheticTraffic } from './synthetic-traffic.js';

const LEAK_TICK_MS = 250;
/**
 * A promoted spare serves first and reports second: its health reporting (the NATS connection
 * and the first heartbeat, 10–20 ms of this process's loop, more on a loaded machine) starts this
 * long after the promotion, so that the requests the agent's front moved to it at that moment are
 * not answered behind it. The old process is gone and the agent has reported its exit already.
 */
const PROMOTED_REPORTING_DELAY_MS = 50;
/** How often a saturated reports route holds the event loop: twice in each one-second metrics window (see overload.ts). */
const BUSY_TICK_MS = 500;

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

  // Set by the agent over IPC (chaos errors|slow|leak|resume). A new process starts healthy unless
  // its release is a bad one (DEMO_FAULT): then it is degraded from the start, restart or not.
  let degradation: Degradation | null = config.DEMO_FAULT ?? null;
  if (degradation) logger.warn({ degradation, release: identity.release }, 'this release carries a fault (DEMO_FAULT)');
  const leaked: Buffer[] = [];
  let reporter: HealthReporter | undefined;
  // The throttle remediation, as a tenant would take it: the SDK's admission gate, set by the
  // agent over IPC (acceptSupervisorCommands answers each command) and asked before every request
  // but /healthz, so the agent can still tell the instance is up. A shed request is answered 503
  // by the SDK and never reaches `handle`, so it is not counted in the health metrics.
  const gate = new AdmissionGate();
  acceptSupervisorCommands(gate);
  gate.onChange((change) => logger.warn({ kind: change.kind, throttle: change.throttle }, 'throttle changed'));

  // Demand beyond capacity (a latency storm, saturation) slows the instance down: overload.ts.
  const overload: OverloadSettings = { ...DEFAULT_OVERLOAD_SETTINGS, capacityPerSecond: config.CAPACITY_RPS };
  const arrivals: Record<LoadedRoute, ArrivalRate> = { orders: new ArrivalRate(), reports: new ArrivalRate() };
  const behind: Record<LoadedRoute, boolean> = { orders: false, reports: false };
  // One line when a route starts or stops falling behind, not one per request.
  const noteBehind = (loaded: LoadedRoute, now: boolean, count: number) => {
    if (behind[loaded] === now) return;
    behind[loaded] = now;
    logger.warn({ route: loaded, requestsInLastSecond: count, capacityPerSecond: overload.capacityPerSecond }, now ? 'over capacity: falling behind' : 'back within capacity');
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const url = req.url ?? '/';
    const treatment = treatRequest(degradation, DEFAULT_DEGRADATION_SETTINGS, url, Math.random());
    const loaded = loadedRouteOf(url);
    const queued = loaded === 'orders' ? queueDelayMs(arrivals.orders.record(started), overload) : 0;
    if (loaded === 'orders') noteBehind('orders', queued > 0, arrivals.orders.count(started));
    else if (loaded === 'reports') arrivals.reports.record(started);
    const delayMs = treatment.delayMs + queued;
    const respond = () => {
      const response = treatment.fail ? INJECTED_FAILURE : route(req.method ?? 'GET', url, identity, new Date());
      res.writeHead(response.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(response.body));
      // Every served request feeds the error rate and latency, as a tenant's middleware would.
      reporter?.recordRequest(performance.now() - started, response.status < 500);
    };
    if (delayMs > 0) setTimeout(respond, delayMs);
    else respond();
  };
  const admitted = nodeHttpAdmission(gate, handle);
  const server = createServer((req, res) => (isHealthCheck(req.url) ? handle(req, res) : admitted(req, res)));
  server.on('error', (error) => {
    logger.fatal({ err: error, port: config.PORT }, 'http server failed');
    process.exit(1);
  });
  let traffic: ReturnType<typeof startSyntheticTraffic> | undefined;
  let listeningPort: number | undefined;
  const startTraffic = () => {
    if (listeningPort !== undefined && !spare) traffic ??= startSyntheticTraffic(`http://127.0.0.1:${listeningPort}/v1/orders`, config.TRAFFIC_RPS);
  };
  server.listen(config.PORT, config.HTTP_HOST, () => {
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

  // The reports route's CPU, while more reports arrive than the instance renders: the loop is
  // held from a timer, not inside a request, so what falls behind is the whole process (its
  // event-loop lag), as when a CPU-bound handler cannot keep up.
  setInterval(() => {
    const now = performance.now();
    const count = arrivals.reports.count(now);
    const busyMs = busyMsFor(count, overload);
    noteBehind('reports', busyMs > 0, count);
    if (busyMs > 0) holdEventLoop(busyMs, () => performance.now());
  }, BUSY_TICK_MS).unref();

  process.on('message', (message) => {
    const promote = promoteMessage.safeParse(message);
    if (promote.success) {
      if (!spare) return;
      spare = false;
      identity.instance = promote.data.instance;
      logger = createLogger('api-server', { tenantId: identity.tenantId, service: identity.service, instance: identity.instance });
      logger.info('promoted from warm spare');
      startTraffic();
      setTimeout(() => void startReporting(), PROMOTED_REPORTING_DELAY_MS);
      return;
    }
    // Throttle commands are acceptSupervisorCommands' to answer.
    if (SUPERVISOR_COMMAND_TYPES.includes((message as { type?: unknown } | null)?.type as string)) return;
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

function isHealthCheck(url: string | undefined): boolean {
  return new URL(url ?? '/', 'http://localhost').pathname === '/healthz';
}

main();
