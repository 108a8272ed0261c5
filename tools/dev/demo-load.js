// Demand on the demo fleet from outside: what causes the demo's latency storm and saturation.
// Used by `npm start`'s scenario and by the end-to-end tests, so both drive the same load.
'use strict';
const http = require('node:http');

/**
 * The two loads of the demo, sized against the api-server's capacity (CAPACITY_RPS, 20 a second
 * per route in the demo: apps/demo-fleet/src/api-server/overload.ts) and the tenants' throttle
 * limits (deploy/tenants):
 * - storm: 30 orders a second at one instance, plus its own 5 of synthetic traffic: beyond
 *   capacity, so orders are answered late (latency). A throttle of 8 a second admits at most 16
 *   in any second (a full bucket plus the rate), within capacity: the latency ends while the storm goes on.
 * - saturation: 30 reports a second spread over every running instance of a service: one instance
 *   cannot render them (its event loop is held busy); spread over two by a scale_out, 15 each can.
 */
const DEMO_LOADS = Object.freeze({
  storm: Object.freeze({ path: '/v1/orders', ratePerSecond: 30 }),
  saturation: Object.freeze({ path: '/v1/reports', ratePerSecond: 30 }),
});

/** Capacity per route the demo gives every api-server (CAPACITY_RPS). */
const DEMO_CAPACITY_RPS = 20;

const REFRESH_MS = 1000;

/**
 * Sends `ratePerSecond` GETs of `path` to instances of one service, round robin, until `durationMs`
 * has passed or `stop()` is called. `instance` pins the load on that one instance (a storm from
 * clients stuck to it); without it the load is spread over every running instance of the service,
 * re-read every second from `listInstances` (the agent's `agent.status`), as the service's load
 * balancer would spread it: the demo fleet has none (each instance has its own port), so this
 * stands in for it, and an instance a scale_out adds takes its share within a second.
 *
 * Options: listInstances() → Promise<[{tenantId, service, instance, state, port}]>, tenantId,
 * service, instance?, path, ratePerSecond, durationMs?, timeoutMs? (per request, 10 s).
 * Returns { stats(), stop(), done }: stats counts sent, answered by status class, shed (503 from
 * a throttle), failed (no answer), and answers per instance.
 */
function startLoad(options) {
  const { listInstances, tenantId, service, instance, path, ratePerSecond } = options;
  const timeoutMs = options.timeoutMs || 10_000;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  const counts = { sent: 0, ok: 0, shed: 0, otherStatus: 0, failed: 0, byInstance: {} };
  let targets = [];
  let next = 0;
  let stopped = false;
  let resolveDone;
  const done = new Promise((resolve) => (resolveDone = resolve));

  const refresh = async () => {
    try {
      const all = await listInstances();
      targets = all.filter((i) => i.tenantId === tenantId && i.service === service && i.state === 'running' && (!instance || i.instance === instance) && i.port);
    } catch {
      // Keep the last targets: one status request that timed out is no reason to stop the load.
    }
  };

  const send = () => {
    if (targets.length === 0) return;
    const target = targets[next++ % targets.length];
    counts.sent++;
    const req = http.get({ host: '127.0.0.1', port: target.port, path, agent, timeout: timeoutMs }, (res) => {
      res.resume();
      if (res.statusCode === 503) counts.shed++;
      else if (res.statusCode >= 200 && res.statusCode < 300) {
        counts.ok++;
        counts.byInstance[target.instance] = (counts.byInstance[target.instance] || 0) + 1;
      } else counts.otherStatus++;
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => counts.failed++);
  };

  let sendTimer;
  let refreshTimer;
  let endTimer;
  const stop = () => {
    if (stopped) return done;
    stopped = true;
    clearInterval(sendTimer);
    clearInterval(refreshTimer);
    clearTimeout(endTimer);
    // Answers still on their way (late orders) are let through for a moment, then cut.
    setTimeout(() => {
      agent.destroy();
      resolveDone(stats());
    }, 2000).unref();
    return done;
  };
  const stats = () => ({ ...counts, byInstance: { ...counts.byInstance }, targets: targets.map((t) => t.instance) });

  void refresh().then(() => {
    if (stopped) return;
    sendTimer = setInterval(send, 1000 / ratePerSecond);
    refreshTimer = setInterval(() => void refresh(), REFRESH_MS);
    if (options.durationMs) endTimer = setTimeout(stop, options.durationMs);
  });
  return { stats, stop, done };
}

module.exports = { startLoad, DEMO_LOADS, DEMO_CAPACITY_RPS };
