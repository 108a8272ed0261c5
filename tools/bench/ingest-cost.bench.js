// What one tenant's HTTP ingest costs the detector, in CPU time of the detector process: per
// accepted event (validated, published, then consumed by the health consumer), per invalid
// event, per byte of a body refused after reading, and per request refused before reading.
// The figures behind the default per-tenant ingest quotas (apps/detector/README.md): a tenant
// using its whole quota must leave most of a detector to the others.
//
// `node tools/bench/ingest-cost.bench.js` (after a build). The system as the tenant-abuse bench
// runs it; quotas raised out of the way; each kind is sent for BENCH_COST_MS (10000) over 4
// connections, then the consumer backlog is given time to drain, and the detector's CPU time
// (utime + stime from /proc) over that window, less what it spends idle, is divided by what was sent.
// BENCH_COST_ONLY=<text> runs only the kinds whose name contains it.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { newEvent } = require('@autoheal/contracts');
const { startSystem, migrateAll } = require('../dev/system.js');
const { benchDatabase, freePort, sleep, startSecureNats } = require('./support.js');

const SEND_MS = Number(process.env.BENCH_COST_MS || 10_000);
const DRAIN_MS = 3_000;
const CONNECTIONS = 4;
const TENANT = 'cost-a';
const KEY = 'ing_cost_a_0123456789abcdef';
const INSTANCES = 500;

function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function post(agent, url, body, key = KEY) {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), authorization: `Bearer ${key}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
        res.on('error', () => resolve(0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function main() {
  if (!fs.existsSync('/proc/stat')) throw new Error('needs /proc (Linux)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoheal-ingest-cost-'));
  const fleet = { tenants: [{ tenantId: 'bench-fleet', displayName: 'Bench fleet', frameworks: ['SOC2'], maxAutoActionsPerHour: 10, autoActions: ['restart'], services: [{ service: 'api', instances: ['f-1'] }] }] };
  const fleetFile = path.join(dir, 'fleet.json');
  fs.writeFileSync(fleetFile, JSON.stringify(fleet));
  const tenantsFile = path.join(dir, 'tenants.json');
  const instances = Array.from({ length: INSTANCES }, (_, i) => ({ instance: `a-${i}`, region: 'local', zone: 'local-a', pool: 'dedicated' }));
  fs.writeFileSync(tenantsFile, JSON.stringify([{ apiVersion: 'autoheal/v1', tenantId: TENANT, frameworks: [], inventory: { services: [{ service: 'api', instances }] }, playbooks: {} }]));
  const nats = await startSecureNats(dir, fleet);
  const database = await benchDatabase('autoheal_bench_ingest_cost');
  migrateAll(database.url);
  const ports = { auditor: await freePort(), detector: await freePort(), decision: await freePort(), executor: await freePort() };
  const system = await startSystem({
    natsUrl: nats.url,
    natsCredentials: nats.credentials,
    databaseUrl: database.url,
    stateDir: dir,
    fleetFile,
    ports,
    restartOnExit: false,
    env: {
      LOG_LEVEL: 'warn',
      FLEET_BASE_PORT: '0',
      DECISION_TENANTS_DIR: tenantsFile,
      DETECTOR_INGEST_API_KEYS: `${TENANT}=${KEY}`,
      // Out of the way: what is measured is the cost of what passes them.
      DETECTOR_INGEST_REQUESTS_PER_SEC: '100000',
      DETECTOR_INGEST_REQUEST_BURST: '100000',
      DETECTOR_INGEST_BYTES_PER_SEC: String(2 ** 30),
      DETECTOR_INGEST_BYTE_BURST: String(2 ** 30),
      DETECTOR_INGEST_RATE_PER_SEC: '1000000',
      DETECTOR_INGEST_BURST: '1000000',
    },
  });
  const url = `http://127.0.0.1:${ports.detector}/v1/tenants/${TENANT}/health-events`;
  try {
    await system.waitHealthy(60_000);
    const pid = system.services.get('detector').pid;
    let n = 0;
    const hb = (i) => newEvent('health.heartbeat', { tenantId: TENANT, producer: 'cost', data: { service: 'api', instance: `a-${i % INSTANCES}`, intervalMs: 600_000, sequence: n } });
    const kinds = [
      // name, unit, units per request, body, key
      ['valid batch of 50', 'accepted event', 50, () => JSON.stringify({ events: Array.from({ length: 50 }, (_, i) => hb(n * 50 + i)) })],
      ['one valid event', 'accepted event', 1, () => JSON.stringify(hb(n))],
      ['invalid batch of 50', 'invalid event', 50, () => JSON.stringify({ events: Array.from({ length: 50 }, (_, i) => ({ ...hb(i), data: { service: 'api', instance: `a-${i}`, intervalMs: 5, sequence: n } })) })],
      ['malformed 900 KB', 'MiB read', 900 / 1024, () => `${n}:${'z'.repeat(900 * 1024)}`],
      ['100,000 deep (200 KB)', 'MiB read', 200_002 / 2 ** 20, () => `${'['.repeat(100_000)}${n}${']'.repeat(100_000)}`],
      ['refused: unknown key', 'request', 1, () => JSON.stringify(hb(n)), 'ing_nobody_0123456789abcdef'],
      ['refused: key, 900 KB', 'request', 1, () => `${n}:${'z'.repeat(900 * 1024)}`, 'ing_nobody_0123456789abcdef'],
    ].filter(([name]) => !process.env.BENCH_COST_ONLY || name.includes(process.env.BENCH_COST_ONLY));
    // The detector idle (timers, snapshots, the consumer's heartbeat) for as long as one kind takes.
    await sleep(2_000);
    const idle0 = cpuSeconds(pid);
    await sleep(SEND_MS + DRAIN_MS);
    const idlePerSec = (cpuSeconds(pid) - idle0) / ((SEND_MS + DRAIN_MS) / 1000);
    console.log(`\ndetector HTTP ingest cost (CPU of the detector process; node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}); idle ${(idlePerSec * 1000).toFixed(1)} ms/s subtracted`);
    console.log(`${'kind'.padEnd(24)} ${'requests'.padStart(9)} ${'per s'.padStart(7)} ${'status'.padEnd(14)} ${'CPU ms per request'.padStart(19)}   per unit`);
    for (const [name, unit, units, body, key] of kinds) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
      const statuses = {};
      let sent = 0;
      const started = performance.now();
      const cpu0 = cpuSeconds(pid);
      const loop = async () => {
        while (performance.now() - started < SEND_MS) {
          n++;
          const status = await post(agent, url, body(), key);
          statuses[status] = (statuses[status] || 0) + 1;
          sent++;
        }
      };
      await Promise.all(Array.from({ length: CONNECTIONS }, loop));
      const sendSeconds = (performance.now() - started) / 1000;
      await sleep(DRAIN_MS);
      const spent = cpuSeconds(pid) - cpu0 - idlePerSec * (sendSeconds + DRAIN_MS / 1000);
      agent.destroy();
      const perRequest = (spent / sent) * 1000;
      const perUnit = perRequest / units;
      const statusText = Object.entries(statuses).map(([s, c]) => `${s}×${c}`).join(' ');
      console.log(`${name.padEnd(24)} ${String(sent).padStart(9)} ${(sent / sendSeconds).toFixed(0).padStart(7)} ${statusText.padEnd(14)} ${perRequest.toFixed(3).padStart(19)}   ${perUnit.toFixed(3)} ms per ${unit}`);
    }
  } finally {
    await system.stop();
    await nats.stop();
    await database.drop();
    if (process.env.BENCH_KEEP_LOGS) console.error(`logs kept in ${system.logDir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
