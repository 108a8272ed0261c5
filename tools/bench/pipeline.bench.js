// `npm run bench`: latency of the healing pipeline against the floor measured in the same run.
//
// N demo instances heartbeat; each round kills K of them at once (different ones each round:
// a target restarted a moment ago is in its cooldown, and the tenant may act on half its
// instances at once). For each, from the moment of the signal (the incident's signalAt: the
// process's exit as its supervisor saw it) we measure: incident opened (event seen on NATS),
// restart done (remediation.succeeded seen), audit row committed (recorded_at of the auditor's
// row). The floor is the same number of raw JetStream hops (publish → durable pull
// consumer → ack → publish next) plus one Postgres commit, measured on the same machine in the
// same run. Nothing here is asserted: it prints figures and ratios.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');
const { connect } = require('@nats-io/transport-node');
const { startSystem, migrateAll } = require('../dev/system.js');
const { benchDatabase, freePort, percentile, sleep, fmt, startNats, measureFloor } = require('./support.js');
const { measureSigningCost, printSigningCost } = require('./signing-cost.js');

const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const KILL = Number(process.env.BENCH_KILL || 4);
const INSTANCES = Number(process.env.BENCH_INSTANCES || KILL * ROUNDS);
const HEARTBEAT_MS = Number(process.env.BENCH_HEARTBEAT_MS || 200);
const FLOOR_SAMPLES = Number(process.env.BENCH_FLOOR_SAMPLES || 300);

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoheal-bench-'));
  const nats = await startNats(dir);
  const database = await benchDatabase('autoheal_bench_pipeline');
  const databaseUrl = database.url;
  migrateAll(databaseUrl);

  const instances = Array.from({ length: INSTANCES }, (_, i) => `bench-${i + 1}`);
  const fleetFile = path.join(dir, 'fleet.json');
  // The agent runs the instances of the fleet file; the decision service takes the tenant's
  // document: no framework, so the baseline profile (20 automatic actions an hour, half a
  // service at once).
  fs.writeFileSync(
    fleetFile,
    JSON.stringify({ tenants: [{ tenantId: 'bench', displayName: 'Bench', frameworks: ['SOC2'], maxAutoActionsPerHour: 20, autoActions: ['restart'], services: [{ service: 'api', instances }] }] }),
  );
  const tenantsFile = path.join(dir, 'tenants.json');
  fs.writeFileSync(
    tenantsFile,
    JSON.stringify([
      {
        apiVersion: 'autoheal/v1',
        tenantId: 'bench',
        frameworks: [],
        inventory: { services: [{ service: 'api', instances: instances.map((instance) => ({ instance, region: 'local', zone: 'local-a', pool: 'dedicated' })) }] },
      },
    ]),
  );
  const ports = { auditor: await freePort(), detector: await freePort(), decision: await freePort(), executor: await freePort() };
  const system = await startSystem({
    natsUrl: nats.url,
    databaseUrl,
    stateDir: dir,
    fleetFile,
    ports,
    restartOnExit: false,
    env: {
      HEARTBEAT_MS: String(HEARTBEAT_MS),
      FLEET_BASE_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
      AUDITOR_OPS_API_KEY: 'bench-ops-key-0123456789',
      // Every instance of the bench tenant dies at once, round after round: the tenant's circuit
      // breaker would rightly stop acting after the first round. What is measured here is the healing path.
      DECISION_BREAKER_MIN_INSTANCES: '1000000000',
      // The bench loads the machine on purpose; a detector stalled 2 s would mark its hangs as a
      // possible detector fault and escalate them. The healing path is what is measured here.
      DETECTOR_OBSERVER_LATE_MS: '30000',
      DECISION_TENANTS_DIR: tenantsFile,
    },
  });
  const nc = await connect({ servers: nats.url });
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  let failed = true;
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
      const victims = Array.from({ length: KILL }, (_, i) => instances[((round - 1) * KILL + i) % INSTANCES]);
      await Promise.all(victims.map((instance) => nc.request('agent.chaos', JSON.stringify({ action: 'kill', tenantId: 'bench', service: 'api', instance }), { timeout: 5000 })));
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const rows = [...seen.values()].slice(before);
        if (rows.length === KILL && rows.every((r) => r.succeeded)) break;
        await sleep(100);
      }
      process.stdout.write(`round ${round}/${ROUNDS}: ${[...seen.values()].slice(before).filter((r) => r.succeeded).length}/${KILL} healed\n`);
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
    console.log(`\nautoheal pipeline benchmark — ${INSTANCES} instances, ${KILL} killed at once x ${ROUNDS} rounds, heartbeat ${HEARTBEAT_MS} ms, ${rows.length} incidents healed`);
    console.log(`node ${process.version}, ${os.cpus().length} cores; floor = raw JetStream hops + 1 Postgres commit, ${FLOOR_SAMPLES} samples each\n`);
    console.log(`${'from the signal (process exit) to'.padEnd(34)} ${'p50'.padStart(11)} ${'p99'.padStart(11)}   ${'floor p50'.padStart(11)} ${'floor p99'.padStart(11)}   ratio p50 / p99`);
    line('incident opened (1 hop)', opened, floor[1]);
    line('restart done (3 hops)', restarted, floor[3]);
    line('audit row committed (4 hops)', audited, floor[4]);
    line('  of which the restart itself', restartOnly);
    line('  the rest: autoheal overhead (3 hops)', overhead, floor[3]);
    console.log('\nThe restart itself (kill, spawn a Node process, wait for its /healthz) is real work the floor does not include.');
    printSigningCost(measureSigningCost(), percentile(restarted, 50));
    failed = false;
  } finally {
    await nc.drain().catch(() => undefined);
    await pg.end().catch(() => undefined);
    await system.stop();
    await nats.stop();
    await database.drop();
    // Kept when the run failed: the services' logs are in it.
    if (failed || process.env.BENCH_KEEP_LOGS) console.error(`logs kept in ${system.logDir}`);
    else if (!process.env.BENCH_KEEP_LOGS) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
