// `npm run bench` (decision part): the decision service alone, as one process, against its own
// nats-server and database. Prints — never asserts — the figures of the decision issue:
//
//   latency     incident.opened published to JetStream → remediation.planned seen on NATS, one
//               incident at a time. That path is two JetStream hops (in through the durable
//               consumer, out through the outbox relay) plus the decision's transaction; the
//               floor is the same two raw hops plus one Postgres commit, measured in the same
//               run. "Added" is what the decision step costs on top of the floor.
//   throughput  BENCH_DECISION_BURST incidents published at once; decisions per second until
//               every plan was seen.
//
// Tenants have no framework (the baseline profile: 20 automatic actions an hour, half a
// service at once), four incidents each on distinct instances, so every decision is a plan
// and each takes the tenant's lock, counts the caps, inserts and appends to the outbox.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Client } = require('pg');
const { connect, headers: natsHeaders } = require('@nats-io/transport-node');
const { jetstream } = require('@nats-io/jetstream');
const { newEvent, newEventId, subjectFor } = require('@autoheal/contracts');
const { migrateAll, waitForHealth, ROOT } = require('../dev/system.js');
const { roleUrl } = require('../infra/postgres-roles.js');
const { eventSignerFor, signingEnvFor } = require('../dev/signing-keys.js');
const { benchDatabase, freePort, percentile, fmt, startNats, measureFloor } = require('./support.js');

const LATENCY_SAMPLES = Number(process.env.BENCH_DECISION_SAMPLES || 300);
const BURST = Number(process.env.BENCH_DECISION_BURST || 1000);
const FLOOR_SAMPLES = Number(process.env.BENCH_FLOOR_SAMPLES || 300);
const PER_TENANT = 4;
/** BENCH_DECISION_PROFILE=<dir>: the decision process writes a CPU profile there. */
const PROFILE_DIR = process.env.BENCH_DECISION_PROFILE;

function tenantDocuments(count) {
  return Array.from({ length: count }, (_, t) => ({
    apiVersion: 'autoheal/v1',
    tenantId: `bench-${t}`,
    frameworks: [],
    inventory: {
      services: [{ service: 'api', instances: Array.from({ length: 10 }, (_, i) => ({ instance: `api-${i}`, region: 'local', zone: 'local-a', pool: 'dedicated' })) }],
    },
  }));
}

function incident(tenantId, instance) {
  const incidentId = newEventId();
  const at = new Date().toISOString();
  return newEvent('incident.opened', {
    tenantId,
    producer: 'detector', // signed as the detector signs them: the envelope must say so
    correlationId: incidentId,
    data: { incidentId, service: 'api', instance, kind: 'heartbeat_missed', severity: 'major', signalAt: at, detectedAt: at, detectionLatencyMs: 0, evidence: {} },
  });
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoheal-decision-bench-'));
  const nats = await startNats(dir);
  const database = await benchDatabase('autoheal_bench_decision');
  const databaseUrl = database.url;
  migrateAll(databaseUrl);

  const incidents = LATENCY_SAMPLES + BURST;
  const tenants = Math.ceil(incidents / PER_TENANT);
  const documentsFile = path.join(dir, 'tenants.json');
  fs.writeFileSync(documentsFile, JSON.stringify(tenantDocuments(tenants)));
  const port = await freePort();
  const logPath = path.join(dir, 'decision.log');
  const log = fs.openSync(logPath, 'a');
  const profile = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  const decision = spawn(process.execPath, [...profile, '--require', '@autoheal/telemetry/register', path.join(ROOT, 'apps/decision/dist/main.js')], {
    cwd: ROOT,
    env: {
      ...process.env,
      NATS_URL: nats.url,
      DATABASE_URL: roleUrl(databaseUrl, 'decision'),
      DECISION_PORT: String(port),
      DECISION_TENANTS_DIR: documentsFile,
      ...signingEnvFor(path.join(dir, 'keys'), 'decision'),
      // Hundreds of incidents at once on a fleet this size would trip the breaker: that is its
      // job, but not what is measured here.
      DECISION_BREAKER_FLEET_SHARE: '1',
      DECISION_BREAKER_MIN_INSTANCES: '1000000000',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', log, log],
  });

  const nc = await connect({ servers: nats.url });
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  try {
    await waitForHealth('decision', port, 60_000, logPath);
    const js = jetstream(nc);
    const plannedAt = new Map();
    let onPlanned = () => undefined;
    nc.subscribe('remediation.*.planned', {
      callback: (_e, msg) => {
        plannedAt.set(msg.json().data.incidentId, performance.now());
        onPlanned();
      },
    });
    // Incidents signed as the detector signs them: the decision service refuses any other.
    const signAsDetector = eventSignerFor(path.join(dir, 'keys'), 'detector');
    const publish = (event) => {
      const bytes = new TextEncoder().encode(JSON.stringify(event));
      const h = natsHeaders();
      for (const [k, v] of Object.entries(signAsDetector(bytes))) h.set(k, v);
      return js.publish(subjectFor(event), bytes, { msgID: event.id, headers: h });
    };
    const slots = [];
    for (let t = 0; t < tenants; t++) for (let i = 0; i < PER_TENANT; i++) slots.push([`bench-${t}`, `api-${i}`]);

    // Warm-up: connections, prepared plans, JIT.
    for (const [tenantId, instance] of slots.splice(0, 20)) {
      const e = incident(tenantId, instance);
      await publish(e);
      while (!plannedAt.has(e.data.incidentId)) await new Promise((r) => setTimeout(r, 1));
    }

    const floor = await measureFloor(nc, pg, 2, FLOOR_SAMPLES);

    const latencies = [];
    for (const [tenantId, instance] of slots.splice(0, LATENCY_SAMPLES)) {
      const e = incident(tenantId, instance);
      const seen = new Promise((resolve) => (onPlanned = () => plannedAt.has(e.data.incidentId) && resolve()));
      const t0 = performance.now();
      await publish(e);
      await seen;
      latencies.push(plannedAt.get(e.data.incidentId) - t0);
    }

    const burst = slots.splice(0, BURST).map(([tenantId, instance]) => incident(tenantId, instance));
    const t0 = performance.now();
    const allSeen = new Promise((resolve) => (onPlanned = () => burst.every((e) => plannedAt.has(e.data.incidentId)) && resolve()));
    await Promise.all(burst.map(publish));
    let timer;
    const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('burst not decided within 120 s')), 120_000)));
    await Promise.race([allSeen, timeout]).finally(() => clearTimeout(timer));
    const seconds = (performance.now() - t0) / 1000;

    const { rows } = await pg.query(`SELECT decision_kind, count(*)::int AS n FROM decision.remediations GROUP BY decision_kind ORDER BY 1`);
    const p = (values, q) => percentile(values, q);
    console.log(`\nautoheal decision benchmark — ${tenants} tenants, ${LATENCY_SAMPLES} incidents one by one, a burst of ${burst.length}`);
    console.log(`node ${process.version}, ${os.cpus().length} cores; decisions: ${rows.map((r) => `${r.decision_kind} ${r.n}`).join(', ')}\n`);
    console.log(`${''.padEnd(44)} ${'p50'.padStart(11)} ${'p99'.padStart(11)}`);
    console.log(`${'incident.opened → remediation.planned'.padEnd(44)} ${fmt(p(latencies, 50))} ${fmt(p(latencies, 99))}`);
    console.log(`${'floor: 2 raw JetStream hops + 1 commit'.padEnd(44)} ${fmt(p(floor, 50))} ${fmt(p(floor, 99))}`);
    console.log(`${'added by the decision step'.padEnd(44)} ${fmt(p(latencies, 50) - p(floor, 50))} ${fmt(p(latencies, 99) - p(floor, 99))}   (target: p99 ≤ 2 ms)`);
    console.log(`${'ratio to the floor'.padEnd(44)} ${`${(p(latencies, 50) / p(floor, 50)).toFixed(1)}x`.padStart(11)} ${`${(p(latencies, 99) / p(floor, 99)).toFixed(1)}x`.padStart(11)}`);
    const warnings = fs.readFileSync(logPath, 'utf8').split('\n').filter((l) => l.includes('"level":"warn"') || l.includes('"level":"error"'));
    if (warnings.length > 0) console.log(`\nthe decision process logged ${warnings.length} warnings or errors, e.g.\n  ${warnings.slice(0, 3).join('\n  ')}`);
    console.log(`\nthroughput: ${burst.length} incidents decided in ${seconds.toFixed(2)} s = ${(burst.length / seconds).toFixed(0)} decisions/s (one decision process)`);
  } finally {
    await nc.drain().catch(() => undefined);
    await pg.end().catch(() => undefined);
    decision.kill('SIGTERM');
    await new Promise((resolve) => decision.once('exit', resolve));
    await nats.stop();
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
