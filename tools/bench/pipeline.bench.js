// `npm run bench`: latency of the healing pipeline against the floor measured in the same run.
//
// N demo instances heartbeat, then all are killed at once. For each, from the moment its
// heartbeat deadline passed (the incident's signalAt) we measure: incident opened (event seen
// on NATS), restart done (remediation.succeeded seen), audit row committed (recorded_at of the
// auditor's row). The floor is the same number of raw JetStream hops (publish → durable pull
// consumer → ack → publish next) plus one Postgres commit, measured on the same machine in the
// same run. Nothing here is asserted: it prints figures and ratios.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { spawn } = require('node:child_process');
const { Client } = require('pg');
const { connect } = require('@nats-io/transport-node');
const { jetstream, jetstreamManager, AckPolicy } = require('@nats-io/jetstream');
const { startSystem, migrateAll, ROOT } = require('../dev/system.js');
const { ensureNatsServerBinary } = require('../infra/ensure-nats-server.js');
const { ensurePostgres } = require('../infra/ensure-postgres.js');

const INSTANCES = Number(process.env.BENCH_INSTANCES || 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const HEARTBEAT_MS = Number(process.env.BENCH_HEARTBEAT_MS || 200);
const FLOOR_SAMPLES = Number(process.env.BENCH_FLOOR_SAMPLES || 300);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmt = (ms) => (Number.isFinite(ms) ? `${ms.toFixed(1).padStart(8)} ms` : '       n/a');

async function startNats(dir) {
  const bin = ensureNatsServerBinary();
  const port = await freePort();
  const child = spawn(bin, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', path.join(dir, 'nats')], { stdio: 'ignore' });
  const url = `nats://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const nc = await connect({ servers: url, reconnect: false });
      await nc.close();
      return { url, stop: () => child.kill('SIGTERM') };
    } catch {
      await sleep(50);
    }
  }
  throw new Error('nats-server did not start');
}

/** A chain of `hops` raw JetStream hops, then one Postgres commit; returns per-sample ms. */
async function measureFloor(nc, pg, hops, samples) {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const stream = `FLOOR_${hops}`;
  await jsm.streams.add({ name: stream, subjects: [`floor${hops}.>`] });
  const consumers = [];
  for (let h = 0; h < hops; h++) {
    await jsm.consumers.add(stream, { durable_name: `hop${h}`, ack_policy: AckPolicy.Explicit, filter_subject: `floor${hops}.${h}` });
    consumers.push(await js.consumers.get(stream, `hop${h}`));
  }
  await pg.query('CREATE TEMP TABLE IF NOT EXISTS floor_commit (id bigserial primary key, at timestamptz)');
  const waiters = new Map();
  const iterators = [];
  for (let h = 0; h < hops; h++) {
    const messages = await consumers[h].consume({ max_messages: 64 });
    iterators.push(messages);
    void (async () => {
      for await (const m of messages) {
        const id = m.string();
        m.ack();
        if (h + 1 < hops) await js.publish(`floor${hops}.${h + 1}`, id, { msgID: `${id}:${h + 1}` });
        else waiters.get(id)?.();
      }
    })();
  }
  const out = [];
  for (let i = 0; i < samples; i++) {
    const id = `s${i}`;
    const t0 = performance.now();
    const done = new Promise((resolve) => waiters.set(id, resolve));
    await js.publish(`floor${hops}.0`, id, { msgID: `${id}:0` });
    await done;
    await pg.query('BEGIN');
    await pg.query('INSERT INTO floor_commit (at) VALUES (now())');
    await pg.query('COMMIT');
    out.push(performance.now() - t0);
  }
  for (const it of iterators) await it.close();
  return out;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoheal-bench-'));
  const nats = await startNats(dir);
  const pgInfo = await ensurePostgres({ stateDir: path.join(ROOT, '.autoheal') });
  const dbName = `autoheal_bench_${process.pid}`;
  const admin = new Client({ connectionString: pgInfo.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(pgInfo.url);
  dbUrl.pathname = `/${dbName}`;
  const databaseUrl = dbUrl.toString();
  migrateAll(databaseUrl);

  const instances = Array.from({ length: INSTANCES }, (_, i) => `bench-${i + 1}`);
  const fleetFile = path.join(dir, 'fleet.json');
  fs.writeFileSync(
    fleetFile,
    JSON.stringify({ tenants: [{ tenantId: 'bench', displayName: 'Bench', frameworks: ['SOC2'], maxAutoActionsPerHour: 100000, autoActions: ['restart'], services: [{ service: 'api', instances }] }] }),
  );
  const ports = { auditor: await freePort(), detector: await freePort(), decision: await freePort(), executor: await freePort() };
  const system = await startSystem({
    natsUrl: nats.url,
    databaseUrl,
    stateDir: dir,
    fleetFile,
    ports,
    restartOnExit: false,
    env: { HEARTBEAT_MS: String(HEARTBEAT_MS), FLEET_BASE_PORT: String(await freePort()), LOG_LEVEL: 'warn', AUDITOR_OPS_API_KEY: 'bench-ops-key-0123456789' },
  });
  const nc = await connect({ servers: nats.url });
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  try {
    await system.waitHealthy(60_000);
    await sleep(3 * HEARTBEAT_MS + 2000);

    // Floors for 1, 3 and 4 hops, measured while the system idles (heartbeats still flow).
    const floor = {};
    for (const hops of [1, 3, 4]) floor[hops] = await measureFloor(nc, pg, hops, FLOOR_SAMPLES);

    const seen = new Map(); // incidentId -> { signalAt, opened, succeeded, instance }
    const byInstance = new Map();
    const sub = (subject) =>
      nc.subscribe(subject, {
        callback: (_e, msg) => {
          const at = Date.now();
          const event = msg.json();
          if (event.type === 'incident.opened') {
            const row = { signalAt: Date.parse(event.data.signalAt), opened: at, instance: event.data.instance };
            seen.set(event.data.incidentId, row);
            byInstance.set(event.data.instance, event.data.incidentId);
          } else if (event.type === 'remediation.succeeded') {
            const row = seen.get(event.data.incidentId);
            if (row) {
              row.succeeded = at;
              row.restartMs = event.data.durationMs;
            }
          }
        },
      });
    const subs = [sub('incident.bench.opened'), sub('remediation.bench.succeeded')];

    for (let round = 1; round <= ROUNDS; round++) {
      const before = seen.size;
      await Promise.all(instances.map((instance) => nc.request('agent.chaos', JSON.stringify({ action: 'kill', tenantId: 'bench', service: 'api', instance }), { timeout: 5000 })));
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const rows = [...seen.values()].slice(before);
        if (rows.length === INSTANCES && rows.every((r) => r.succeeded)) break;
        await sleep(100);
      }
      process.stdout.write(`round ${round}/${ROUNDS}: ${[...seen.values()].slice(before).filter((r) => r.succeeded).length}/${INSTANCES} healed\n`);
      await sleep(3 * HEARTBEAT_MS + 1500); // let incidents resolve before the next round
    }
    subs.forEach((s) => s.unsubscribe());
    await sleep(1000);

    const rows = [...seen.entries()].filter(([, r]) => r.succeeded);
    const audit = await pg.query(
      `SELECT correlation_id, recorded_at FROM auditor.audit_log WHERE event_type = 'remediation.succeeded' AND correlation_id = ANY($1)`,
      [rows.map(([id]) => id)],
    );
    const auditAt = new Map(audit.rows.map((r) => [r.correlation_id, r.recorded_at.getTime()]));
    const opened = rows.map(([, r]) => r.opened - r.signalAt);
    const restarted = rows.map(([, r]) => r.succeeded - r.signalAt);
    const restartOnly = rows.map(([, r]) => r.restartMs);
    // What autoheal adds around the restart: detection, two decisions, three hops.
    const overhead = rows.map(([, r]) => r.succeeded - r.signalAt - r.restartMs);
    const audited = rows.filter(([id]) => auditAt.has(id)).map(([id, r]) => auditAt.get(id) - r.signalAt);

    const line = (name, values, floorValues) => {
      const p50 = percentile(values, 50);
      const p99 = percentile(values, 99);
      const f50 = floorValues ? percentile(floorValues, 50) : NaN;
      const f99 = floorValues ? percentile(floorValues, 99) : NaN;
      const ratio = floorValues ? `${(p50 / f50).toFixed(1)}x / ${(p99 / f99).toFixed(1)}x` : '';
      console.log(`${name.padEnd(34)} ${fmt(p50)} ${fmt(p99)}   ${floorValues ? `${fmt(f50)} ${fmt(f99)}   ${ratio}` : ''}`);
    };
    console.log(`\nautoheal pipeline benchmark — ${INSTANCES} instances x ${ROUNDS} rounds, heartbeat ${HEARTBEAT_MS} ms, 3 missed intervals, ${rows.length} incidents healed`);
    console.log(`node ${process.version}, ${os.cpus().length} cores; floor = raw JetStream hops + 1 Postgres commit, ${FLOOR_SAMPLES} samples each\n`);
    console.log(`${'from the heartbeat deadline to'.padEnd(34)} ${'p50'.padStart(11)} ${'p99'.padStart(11)}   ${'floor p50'.padStart(11)} ${'floor p99'.padStart(11)}   ratio p50 / p99`);
    line('incident opened (1 hop)', opened, floor[1]);
    line('restart done (3 hops)', restarted, floor[3]);
    line('audit row committed (4 hops)', audited, floor[4]);
    line('  of which the restart itself', restartOnly);
    line('  the rest: autoheal overhead (3 hops)', overhead, floor[3]);
    console.log('\nThe restart itself (kill, spawn a Node process, wait for its /healthz) is real work the floor does not include.');
  } finally {
    await nc.drain().catch(() => undefined);
    await pg.end().catch(() => undefined);
    await system.stop();
    nats.stop();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
    await pgInfo.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
