// `npm run bench` (last part): does one tenant's abuse reach another's detection and audit reads?
//
// The whole system as `npm start` runs it (nats-server with TLS and NKey users, Postgres with the
// services' own roles, the four built services). Tenant B behaves: its 40 instances heartbeat
// over HTTP ingest, one of them crashes every half second (a `health.exited` over ingest), and B
// reads its audit trail at a steady pace (a list page every 250 ms, a verify every second).
// Measured for B, each request started on its schedule whatever the previous one is doing (so a
// stall shows in the figures instead of thinning them out):
//   detection   from sending the crash report to its `incident.opened` arriving on the bus
//   audit read  GET /v1/tenants/B/audit?limit=50 and GET /v1/tenants/B/audit/verify
//   ingest      B's heartbeat POST (extra line)
// Phase 1 runs without a flood: it is the floor, measured in the same run on the same machine.
// Phase 2 runs the same while tenant A, from a process of its own, floods with its own keys:
// HTTP ingest over several connections with valid batches, invalid events, malformed and large
// malformed (900 KB) bodies and 100,000-deep bodies; and concurrent `verify` calls on A's own
// audit chain, seeded beforehand with BENCH_ABUSE_AUDIT_ROWS rows. The seed calls the auditor's
// own append function (auditor.append_audit_entry) as the auditor's database role, a few
// thousand rows per statement: the rows are exactly what the service would have written, the
// chain computed by the database, without a round trip or a NATS hop per row.
// A's flood process runs at the lowest CPU priority (nice 19, os.setPriority): a real attacker's
// client runs on its own hardware, not on the cores that answer it, so what is measured is what
// the system spends answering A — every service, nats-server and Postgres keep their priority —
// and not the CPU A's own client burns sending (it took about half a core of the two at full
// priority). The flood itself is unchanged, and A's achieved load and its client's CPU are printed.
// BENCH_ABUSE_FLOOD_NICE=0 runs it at normal priority, as before.
// Prints B's p50/p99 per phase and the ratio of the p99s (goal ≤ 1.5×), and what A achieved;
// then where the time went, per phase: each process's CPU (the services, nats-server, the
// bench's Postgres backends, A's flood process, and the rest of the machine: other work on a
// shared machine shows there), the detector health consumer's backlog, and the event-loop delay
// of the detector and the auditor. Nothing is asserted.
// B reads on a budget that fits its schedule (AUDITOR_READ_RATE_PER_MINUTE is set from it; the
// budget is per key, A's key gets as much): B's reads are timed, not refused by its own budget.
//
// Durations and rates: BENCH_ABUSE_PHASE_MS (60000), BENCH_ABUSE_WARMUP_MS (5000),
// BENCH_ABUSE_AUDIT_ROWS (50000; B's own chain: BENCH_ABUSE_B_AUDIT_ROWS, 5000), BENCH_ABUSE_INGEST_CONNECTIONS (8),
// BENCH_ABUSE_VERIFY_CONNECTIONS (4), BENCH_ABUSE_B_INSTANCES (40), BENCH_ABUSE_HEARTBEAT_MS
// (1000), BENCH_ABUSE_CRASH_EVERY_MS (500), BENCH_ABUSE_READ_EVERY_MS (250),
// BENCH_ABUSE_VERIFY_EVERY_MS (1000). BENCH_KEEP_LOGS=1 keeps the services' logs.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { fork } = require('node:child_process');
const { Client } = require('pg');
const { newEvent } = require('@autoheal/contracts');
const { startSystem, migrateAll } = require('../dev/system.js');
const { roleUrl } = require('../infra/postgres-roles.js');
const { benchDatabase, freePort, percentile, sleep, startSecureNats } = require('./support.js');
const { startCpuSampler } = require('./process-cpu.js');

const env = (name, fallback) => Number(process.env[name] || fallback);
const CONFIG = {
  // 60 s: B's p99 is then the second slowest of 120 crash reports and the third slowest of 240
  // page reads. With 30 s phases (before 2026-12-07, later) it was the slowest of 60, and one
  // sample decided the verdict of a run.
  phaseMs: env('BENCH_ABUSE_PHASE_MS', 60_000),
  warmupMs: env('BENCH_ABUSE_WARMUP_MS', 5_000),
  auditRows: env('BENCH_ABUSE_AUDIT_ROWS', 50_000),
  bAuditRows: env('BENCH_ABUSE_B_AUDIT_ROWS', 5_000),
  ingestConnections: env('BENCH_ABUSE_INGEST_CONNECTIONS', 8),
  verifyConnections: env('BENCH_ABUSE_VERIFY_CONNECTIONS', 4),
  bInstances: env('BENCH_ABUSE_B_INSTANCES', 40),
  heartbeatMs: env('BENCH_ABUSE_HEARTBEAT_MS', 1_000),
  crashEveryMs: env('BENCH_ABUSE_CRASH_EVERY_MS', 500),
  readEveryMs: env('BENCH_ABUSE_READ_EVERY_MS', 250),
  verifyEveryMs: env('BENCH_ABUSE_VERIFY_EVERY_MS', 1_000),
  floodNice: env('BENCH_ABUSE_FLOOD_NICE', 19),
};
const A = 'bench-a';
const B = 'bench-b';
const A_INSTANCES = 500;
const KEYS = {
  ops: 'ops_bench_abuse_0123456789',
  ingest: { [A]: 'ing_bench_a_0123456789abcdef', [B]: 'ing_bench_b_0123456789abcdef' },
  audit: { [A]: 'aud_bench_a_0123456789abcdef', [B]: 'aud_bench_b_0123456789abcdef' },
};
/** At most this many of one kind of B's requests in flight; a scheduled one beyond it is counted as skipped. */
const MAX_IN_FLIGHT = 50;
const SEED_CHUNK = 2_500;
/** What an incremental verify costs in read tokens (the auditor's default AUDITOR_VERIFY_COST). */
const AUDITOR_VERIFY_COST = 10;

/** One HTTP request; resolves with status and body, or status 0 and the error (never rejects). */
function request(agent, url, { method = 'GET', key, body } = {}) {
  return new Promise((resolve) => {
    const u = new URL(url);
    const headers = { 'content-type': 'application/json' };
    if (key) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    let settled = false;
    const done = (result) => {
      if (!settled) {
        settled = true;
        resolve(result);
      }
    };
    const req = http.request({ host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (error) => done({ status: res.statusCode, body: '', error }));
    });
    // A refused body is answered before it is read and the connection closed: the answer counts.
    req.on('error', (error) => done({ status: 0, body: '', error }));
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

// ---- Tenant A's flood, in a process of its own (so its CPU is not this process's event loop) ----

async function flood() {
  const config = JSON.parse(process.env.BENCH_ABUSE_FLOOD);
  const agent = new http.Agent({ keepAlive: true, maxSockets: config.ingestConnections + config.verifyConnections });
  const counts = { ingest: { sent: 0, bytes: 0, byKind: {}, byStatus: {}, byKindStatus: {}, eventsAccepted: 0 }, verify: { sent: 0, byStatus: {}, ms: [] } };
  let stopping = false;
  process.on('message', (m) => {
    if (m === 'stop') stopping = true;
  });
  let n = 0;
  const hb = (i, seq) => newEvent('health.heartbeat', { tenantId: A, producer: 'flood', data: { service: 'api', instance: `a-${i % A_INSTANCES}`, intervalMs: 600_000, sequence: seq } });
  const bodies = {
    // 50 valid heartbeats of A's declared instances (their interval is ten minutes: none goes missing during the run).
    valid: () => JSON.stringify({ events: Array.from({ length: 50 }, (_, i) => hb(n * 50 + i, n)) }),
    // 50 events, each invalid (an interval below the minimum): refused whole, dead-lettered with the reason.
    invalid: () => JSON.stringify({ events: Array.from({ length: 50 }, (_, i) => ({ ...hb(n * 50 + i, n), data: { service: 'api', instance: `a-${i}`, intervalMs: 5, sequence: n } })) }),
    malformed: () => `{"events": [${'{"type":"health.heartbeat",'.repeat(40)} ${n}`,
    large: () => `${n}:${'z'.repeat(900 * 1024)}`,
    deep: () => `${'['.repeat(100_000)}${n}${']'.repeat(100_000)}`,
  };
  const mix = ['valid', 'valid', 'valid', 'valid', 'invalid', 'invalid', 'malformed', 'malformed', 'large', 'deep'];
  const ingestLoop = async () => {
    while (!stopping) {
      const kind = mix[n++ % mix.length];
      const body = bodies[kind]();
      counts.ingest.sent++;
      counts.ingest.bytes += Buffer.byteLength(body);
      counts.ingest.byKind[kind] = (counts.ingest.byKind[kind] || 0) + 1;
      const res = await request(agent, `${config.detectorUrl}/v1/tenants/${A}/health-events`, { method: 'POST', key: config.ingestKey, body });
      counts.ingest.byStatus[res.status] = (counts.ingest.byStatus[res.status] || 0) + 1;
      const ofKind = (counts.ingest.byKindStatus[kind] ??= {});
      ofKind[res.status] = (ofKind[res.status] || 0) + 1;
      if (res.status === 202) counts.ingest.eventsAccepted += JSON.parse(res.body).accepted - JSON.parse(res.body).duplicates;
    }
  };
  const verifyLoop = async () => {
    while (!stopping) {
      counts.verify.sent++;
      const t0 = performance.now();
      const res = await request(agent, `${config.auditorUrl}/v1/tenants/${A}/audit/verify`, { key: config.auditKey });
      counts.verify.ms.push(performance.now() - t0);
      counts.verify.byStatus[res.status] = (counts.verify.byStatus[res.status] || 0) + 1;
      // Refused (a rate limit): try again at once, as an attacker would.
    }
  };
  await Promise.all([...Array.from({ length: config.ingestConnections }, ingestLoop), ...Array.from({ length: config.verifyConnections }, verifyLoop)]);
  process.send(counts, () => process.exit(0));
}

function startFlood(config) {
  const child = fork(__filename, ['--flood'], { env: { ...process.env, BENCH_ABUSE_FLOOD: JSON.stringify(config) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // Before it sends anything (it waits for nothing but its start-up): see the header.
  os.setPriority(child.pid, CONFIG.floodNice);
  const result = new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the flood process exited (${code}) without its counts`)));
  });
  return {
    pid: child.pid,
    async stop() {
      child.send('stop');
      // In-flight verify calls finish first; they may take long under their own load.
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      try {
        return await result;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

// ---- Tenant B, measured here ----

/** Runs `fn` every `everyMs` on schedule (not after the previous one ended), tagging each sample with the phase it started in. */
function every(everyMs, phase, fn) {
  const samples = [];
  let inFlight = 0;
  let skipped = 0;
  const timer = setInterval(() => {
    if (inFlight >= MAX_IN_FLIGHT) {
      skipped++;
      return;
    }
    inFlight++;
    const at = phase();
    void fn()
      .then((sample) => sample && samples.push({ phase: at, ...sample }))
      .finally(() => inFlight--);
  }, everyMs);
  return { samples, skipped: () => skipped, stop: () => clearInterval(timer), idle: async () => { while (inFlight > 0) await sleep(50); } };
}

async function seedAuditChain(databaseUrl, tenantId, rows) {
  const pg = new Client({ connectionString: roleUrl(databaseUrl, 'auditor') });
  await pg.connect();
  try {
    for (let done = 0; done < rows; done += SEED_CHUNK) {
      const count = Math.min(SEED_CHUNK, rows - done);
      // One statement appends `count` rows, each through the function the service calls; the
      // payload is shaped like an incident event (about 600 bytes), as a real trail's rows are.
      await pg.query(
        `SELECT count(*) FROM generate_series($2::int, $2::int + $3::int - 1) AS g,
           LATERAL auditor.append_audit_entry(
             $1, gen_random_uuid()::text, 'incident.opened', now(), 'detector', 'incident.open', 'success',
             jsonb_build_object('service', 'api', 'instance', 'i-' || (g % 100), 'incidentId', gen_random_uuid()::text),
             'incident.' || $1 || '.opened', gen_random_uuid()::text, gen_random_uuid()::text, md5(g::text),
             jsonb_build_object('id', gen_random_uuid()::text, 'type', 'incident.opened', 'version', 1, 'tenantId', $1,
               'occurredAt', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'producer', 'detector',
               'data', jsonb_build_object('service', 'api', 'instance', 'i-' || (g % 100), 'kind', 'crashed', 'severity', 'major',
                 'detectionLatencyMs', g % 97, 'evidence', jsonb_build_object('exitCode', 137, 'signal', 'SIGKILL', 'observedBy', 'agent', 'note', repeat('x', 200)))))`,
        [tenantId, done + 1, count],
      );
    }
  } finally {
    await pg.end();
  }
}

let diagnosisStopped;

/**
 * Where the time goes, per phase: CPU of each process (process-cpu.js), the detector's health
 * consumer backlog (pending and unacknowledged messages, sampled every second), and the event-loop
 * delay of the detector and the auditor (prom-client's histogram, reset by each scrape of /metrics:
 * scraped when a phase starts and when it ends).
 */
async function startDiagnosis({ system, nats, nc, databaseUrl, phase, urls }) {
  const { jetstreamManager } = require('@nats-io/jetstream');
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  const database = new URL(databaseUrl).pathname.slice(1);
  const state = { floodPid: undefined };
  const groups = async () => {
    const backends = await pg.query('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]).catch(() => ({ rows: [] }));
    const g = { postgres: backends.rows.map((r) => r.pid), 'nats-server': [nats.pid], 'bench (B)': [process.pid] };
    for (const [name, proc] of system.services) if (proc.pid) g[name] = [proc.pid];
    if (state.floodPid) g['flood (A)'] = [state.floodPid];
    return g;
  };
  const cpu = startCpuSampler({ groups, phase });
  let jsm;
  try {
    jsm = await jetstreamManager(nc);
  } catch {
    jsm = undefined;
  }
  const backlog = {};
  const backlogTimer = setInterval(async () => {
    if (!jsm) return;
    try {
      const p = phase();
      for await (const info of jsm.consumers.list('HEALTH')) {
        if (!info.name.startsWith('detector-health')) continue;
        const b = (backlog[p] ??= { pending: [], ackPending: [] });
        b.pending.push(info.num_pending);
        b.ackPending.push(info.num_ack_pending);
      }
    } catch {
      jsm = undefined;
    }
  }, 1_000);
  const lag = {};
  const scrape = async (service) => {
    const res = await request(undefined, `${urls[service]}/metrics`);
    const value = (name) => Number((res.body.match(new RegExp(`^${name}\\{[^}]*\\} ([0-9.eE+-]+)$`, 'm')) || [])[1]) * 1000;
    // Garbage collection, cumulative over every kind: seconds paused, pauses, pauses of 100 ms or less.
    const sum = (re) => [...res.body.matchAll(re)].reduce((total, m) => total + Number(m[1]), 0);
    const gc = {
      seconds: sum(/^nodejs_gc_duration_seconds_sum\{[^}]*\} ([0-9.eE+-]+)$/gm),
      pauses: sum(/^nodejs_gc_duration_seconds_count\{[^}]*\} ([0-9.eE+-]+)$/gm),
      upTo100ms: sum(/^nodejs_gc_duration_seconds_bucket\{le="0\.1"[^}]*\} ([0-9.eE+-]+)$/gm),
    };
    return { p50: value('nodejs_eventloop_lag_p50_seconds'), p99: value('nodejs_eventloop_lag_p99_seconds'), max: value('nodejs_eventloop_lag_max_seconds'), gc };
  };
  const gcAtStart = {};
  diagnosisStopped = async () => {
    clearInterval(backlogTimer);
    await cpu.stop();
    await pg.end().catch(() => undefined);
  };
  return {
    set floodPid(pid) {
      state.floodPid = pid;
    },
    async phaseStarts() {
      for (const service of Object.keys(urls)) gcAtStart[service] = (await scrape(service)).gc;
    },
    async phaseEnds(p) {
      for (const service of Object.keys(urls)) {
        const now = await scrape(service);
        const before = gcAtStart[service];
        (lag[p] ??= {})[service] = { ...now, gc: { seconds: now.gc.seconds - before.seconds, pauses: now.gc.pauses - before.pauses, over100ms: now.gc.pauses - now.gc.upTo100ms - (before.pauses - before.upTo100ms) } };
        gcAtStart[service] = now.gc;
      }
    },
    print() {
      const report = cpu.report();
      const phases = ['calm', 'flood'].filter((p) => report[p]);
      if (phases.length === 0) return;
      const names = [...new Set(phases.flatMap((p) => Object.keys(report[p].cores)))].sort((a, b) => (report.flood?.cores[b] ?? 0) - (report.flood?.cores[a] ?? 0));
      const pct = (v) => `${((v ?? 0) * 100).toFixed(0)}%`.padStart(7);
      console.log(`\nWhere the CPU went (share of one core, averaged over the phase; the machine has ${os.cpus().length}):`);
      console.log(`${'process'.padEnd(28)} ${phases.map((p) => (p === 'calm' ? 'floor' : 'flood').padStart(7)).join(' ')}`);
      for (const name of names) console.log(`${name.padEnd(28)} ${phases.map((p) => pct(report[p].cores[name])).join(' ')}`);
      const ours = (p) => Object.values(report[p].cores).reduce((a, b) => a + b, 0);
      console.log(`${'rest of the machine'.padEnd(28)} ${phases.map((p) => pct(Math.max(0, report[p].machine - ours(p)))).join(' ')}`);
      console.log(`${'machine busy'.padEnd(28)} ${phases.map((p) => pct(report[p].machine)).join(' ')}`);
      const bl = (p) => {
        const b = backlog[p];
        return b ? `pending p50 ${percentile(b.pending, 50)}, max ${Math.max(...b.pending)}; unacknowledged max ${Math.max(...b.ackPending)}` : 'not sampled';
      };
      console.log(`detector health consumer backlog: floor ${bl('calm')}; flood ${bl('flood')}`);
      for (const service of Object.keys(urls)) {
        const l = (p) => {
          const v = lag[p]?.[service];
          return v ? `p50 ${v.p50.toFixed(0)} p99 ${v.p99.toFixed(0)} max ${v.max.toFixed(0)} ms, GC ${(v.gc.seconds * 1000).toFixed(0)} ms in ${v.gc.pauses} pauses (${v.gc.over100ms} over 100 ms)` : 'n/a';
        };
        console.log(`${service} event-loop delay: floor ${l('calm')}; flood ${l('flood')}`);
      }
    },
  };
}

async function main() {
  const started = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoheal-abuse-bench-'));
  // The agent needs a fleet to run: one demo instance of a tenant of its own. A and B report
  // over HTTP ingest; their instances exist in their tenant documents only.
  const fleet = { tenants: [{ tenantId: 'bench-fleet', displayName: 'Bench fleet', frameworks: ['SOC2'], maxAutoActionsPerHour: 10, autoActions: ['restart'], services: [{ service: 'api', instances: ['f-1'] }] }] };
  const fleetFile = path.join(dir, 'fleet.json');
  fs.writeFileSync(fleetFile, JSON.stringify(fleet));
  const bInstances = Array.from({ length: CONFIG.bInstances }, (_, i) => `b-${i + 1}`);
  // Both tenants plan their remediations as dry runs: the decision service decides every
  // incident, nothing is carried out (no agent runs these instances), so the load is the same in both phases.
  const dryRun = { dryRun: true, candidates: [{ action: 'restart' }] };
  const doc = (tenantId, instances) => ({
    apiVersion: 'autoheal/v1',
    tenantId,
    frameworks: [],
    inventory: { services: [{ service: 'api', instances: instances.map((instance) => ({ instance, region: 'local', zone: 'local-a', pool: 'dedicated' })) }] },
    playbooks: { crashed: dryRun, heartbeat_missed: dryRun },
  });
  const tenantsFile = path.join(dir, 'tenants.json');
  fs.writeFileSync(tenantsFile, JSON.stringify([doc(A, Array.from({ length: A_INSTANCES }, (_, i) => `a-${i}`)), doc(B, bInstances)]));

  const nats = await startSecureNats(dir, fleet);
  const database = await benchDatabase('autoheal_bench_abuse');
  migrateAll(database.url);
  const seedStarted = performance.now();
  // Seeded before the services start: nothing else writes yet. B has a history too, so that the
  // rows its own reads and incidents add during the run change its verify little.
  await seedAuditChain(database.url, A, CONFIG.auditRows);
  await seedAuditChain(database.url, B, CONFIG.bAuditRows);
  const seedMs = performance.now() - seedStarted;
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
      AUDITOR_OPS_API_KEY: KEYS.ops,
      AUDITOR_TENANT_API_KEYS: Object.entries(KEYS.audit).map(([t, k]) => `${t}=${k}`).join(','),
      DETECTOR_INGEST_API_KEYS: Object.entries(KEYS.ingest).map(([t, k]) => `${t}=${k}`).join(','),
      // B crashes an instance every half second, round after round: neither the breaker nor the
      // fleet-fault or flapping rules are what is measured here.
      DECISION_BREAKER_MIN_INSTANCES: '1000000000',
      DETECTOR_FLEET_MIN_INSTANCES: '1000000000',
      DETECTOR_FLAP_MAX_OPENS: '1000',
      // B's reading schedule (a page every 250 ms, a verify every second: 14 tokens a second)
      // fits its key's read budget with room to spare, so what is measured is how long B's reads
      // take, not how many its own budget refuses (with the default 120 a minute, 9 in 10 were
      // refused and no verify was left to time). The budget is per key: A's key gets as much.
      AUDITOR_READ_RATE_PER_MINUTE: String(Math.ceil(1.5 * (60_000 / CONFIG.readEveryMs + AUDITOR_VERIFY_COST * (60_000 / CONFIG.verifyEveryMs)))),
      AUDITOR_READ_BURST: String(Math.max(60, 2 * AUDITOR_VERIFY_COST)),
    },
  });
  const detectorUrl = `http://127.0.0.1:${ports.detector}`;
  const auditorUrl = `http://127.0.0.1:${ports.auditor}`;
  let failed = true;
  let nc;
  try {
    await system.waitHealthy(60_000);
    nc = await nats.connectAs('ops');
    let phase = 'warmup';
    const current = () => phase;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 * MAX_IN_FLIGHT });
    const diagnosis = await startDiagnosis({ system, nats, nc, databaseUrl: database.url, phase: current, urls: { detector: `http://127.0.0.1:${ports.detector}`, auditor: `http://127.0.0.1:${ports.auditor}` } });

    // Detection: crash reports waiting for their incident, by instance.
    const waiting = new Map();
    const detections = [];
    const hangs = [];
    const sub = nc.subscribe(`incident.${B}.opened`, {
      callback: (_e, msg) => {
        const at = Date.now();
        const { data } = msg.json();
        if (data.scope !== 'instance') return;
        if (data.kind === 'heartbeat_missed') {
          hangs.push({ phase: current(), instance: data.instance });
          return;
        }
        const w = data.kind === 'crashed' ? waiting.get(data.instance) : undefined;
        if (!w) return;
        waiting.delete(data.instance);
        detections.push({ phase: w.phase, ms: at - w.sentAt });
      },
    });

    let sequence = 0;
    const heartbeats = every(CONFIG.heartbeatMs, current, async () => {
      const seq = ++sequence;
      const body = JSON.stringify({ events: bInstances.map((instance) => newEvent('health.heartbeat', { tenantId: B, producer: 'bench-b', data: { service: 'api', instance, intervalMs: CONFIG.heartbeatMs, sequence: seq } })) });
      const t0 = performance.now();
      const res = await request(agent, `${detectorUrl}/v1/tenants/${B}/health-events`, { method: 'POST', key: KEYS.ingest[B], body });
      return { ms: performance.now() - t0, ok: res.status === 202, status: res.status };
    });
    let crashes = 0;
    const crashReports = every(CONFIG.crashEveryMs, current, async () => {
      const instance = bInstances[crashes++ % bInstances.length];
      const event = newEvent('health.exited', { tenantId: B, producer: 'bench-b', data: { service: 'api', instance, exitCode: 137, signal: 'SIGKILL', observedBy: 'agent' } });
      // A report still waiting from the last round of this instance is a miss, counted below.
      const previous = waiting.get(instance);
      if (previous) previous.missed = true;
      const entry = { phase: current(), sentAt: Date.now() };
      waiting.set(instance, entry);
      const res = await request(agent, `${detectorUrl}/v1/tenants/${B}/health-events`, { method: 'POST', key: KEYS.ingest[B], body: JSON.stringify(event) });
      return { ok: res.status === 202, status: res.status, missedBefore: previous ? previous.phase : undefined };
    });
    const reads = every(CONFIG.readEveryMs, current, async () => {
      const t0 = performance.now();
      const res = await request(agent, `${auditorUrl}/v1/tenants/${B}/audit?limit=50`, { key: KEYS.audit[B] });
      return { ms: performance.now() - t0, ok: res.status === 200, status: res.status };
    });
    const verifies = every(CONFIG.verifyEveryMs, current, async () => {
      const t0 = performance.now();
      const res = await request(agent, `${auditorUrl}/v1/tenants/${B}/audit/verify`, { key: KEYS.audit[B] });
      const ms = performance.now() - t0;
      const body = res.status === 200 ? JSON.parse(res.body) : {};
      return { ms, ok: res.status === 200 && body.ok === true, status: res.status, rows: body.checkedRows };
    });

    process.stdout.write(`tenant-abuse bench: A's and B's chains seeded with ${CONFIG.auditRows} and ${CONFIG.bAuditRows} rows in ${(seedMs / 1000).toFixed(1)} s; warm-up ${CONFIG.warmupMs / 1000} s…\n`);
    await sleep(CONFIG.warmupMs);
    await diagnosis.phaseStarts();
    const loadAtStart = os.loadavg();
    phase = 'calm';
    process.stdout.write(`tenant-abuse bench: phase 1, B alone, ${CONFIG.phaseMs / 1000} s…\n`);
    await sleep(CONFIG.phaseMs);
    await diagnosis.phaseEnds('calm');
    process.stdout.write(`tenant-abuse bench: phase 2, A floods ingest and verify, ${CONFIG.phaseMs / 1000} s…\n`);
    const floodProcess = startFlood({ detectorUrl, auditorUrl, ingestKey: KEYS.ingest[A], auditKey: KEYS.audit[A], ingestConnections: CONFIG.ingestConnections, verifyConnections: CONFIG.verifyConnections });
    diagnosis.floodPid = floodProcess.pid;
    phase = 'flood';
    await sleep(CONFIG.phaseMs);
    await diagnosis.phaseEnds('flood');
    const loadAtEnd = os.loadavg();
    phase = 'after';
    const floodCounts = await floodProcess.stop();
    for (const loop of [heartbeats, crashReports, reads, verifies]) loop.stop();
    // What was sent in the phases gets its answer or its incident (or counts as missed).
    await Promise.all([heartbeats, crashReports, reads, verifies].map((l) => l.idle()));
    const deadline = Date.now() + 10_000;
    while ([...waiting.values()].some((w) => w.phase !== 'after' && w.phase !== 'warmup') && Date.now() < deadline) await sleep(100);
    sub.unsubscribe();
    const missed = (p) => crashReports.samples.filter((s) => s.missedBefore === p).length + [...waiting.values()].filter((w) => w.phase === p).length;

    // ---- The table ----
    const of = (samples, p) => samples.filter((s) => s.phase === p);
    const ms = (samples, p) => of(samples, p).filter((s) => s.ok !== false).map((s) => s.ms);
    const num = (v) => (Number.isFinite(v) ? `${v.toFixed(1)}` : 'n/a');
    const cell = (values) => `${num(percentile(values, 50)).padStart(8)} ${num(percentile(values, 99)).padStart(9)} ${String(values.length).padStart(5)}`;
    const rows = [
      ['B detection: crash report -> incident.opened', ms(detections, 'calm'), ms(detections, 'flood'), true],
      ['B audit read: GET audit?limit=50', ms(reads.samples, 'calm'), ms(reads.samples, 'flood'), true],
      ['B audit read: GET audit/verify', ms(verifies.samples, 'calm'), ms(verifies.samples, 'flood'), true],
      ['B ingest: heartbeat batch POST (extra)', ms(heartbeats.samples, 'calm'), ms(heartbeats.samples, 'flood'), false],
    ];
    console.log(`\nautoheal tenant-abuse benchmark — does tenant A's flood reach tenant B?`);
    console.log(`node ${process.version}, ${os.cpus().length} cores, finished in ${((Date.now() - started) / 1000).toFixed(0)} s; ${CONFIG.phaseMs / 1000} s per phase`);
    console.log(`B: ${CONFIG.bInstances} instances heartbeating every ${CONFIG.heartbeatMs} ms, a crash report every ${CONFIG.crashEveryMs} ms, an audit page every ${CONFIG.readEveryMs} ms, a verify every ${CONFIG.verifyEveryMs} ms`);
    console.log(`A: ${CONFIG.ingestConnections} ingest connections, ${CONFIG.verifyConnections} verify loops on its own ${CONFIG.auditRows.toLocaleString('en-US')}-row chain; A's client process at nice ${CONFIG.floodNice} (the services at their own)`);
    console.log(`load average when the floor started ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}, when the flood ended ${loadAtEnd.map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`read budget per audit key (B's and A's alike): ${system.services.get('auditor').env.AUDITOR_READ_RATE_PER_MINUTE} tokens a minute, a verify ${AUDITOR_VERIFY_COST}`);
    console.log(`floor = B without the flood, the same run (phase 1); times in ms\n`);
    console.log(`${'metric'.padEnd(46)} ${'B without flood (floor)'.padStart(24)}   ${'B under A\'s flood'.padStart(24)}   ${'p99 ratio'.padStart(9)}  goal`);
    console.log(`${''.padEnd(46)} ${'p50'.padStart(8)} ${'p99'.padStart(9)} ${'n'.padStart(5)}   ${'p50'.padStart(8)} ${'p99'.padStart(9)} ${'n'.padStart(5)}`);
    for (const [name, calm, flooded, goal] of rows) {
      const ratio = percentile(flooded, 99) / percentile(calm, 99);
      console.log(`${name.padEnd(46)} ${cell(calm)}   ${cell(flooded)}   ${`${num(ratio)}x`.padStart(9)}  ${goal ? '<= 1.5x' : ''}`);
    }
    const failedOf = (samples, p) => of(samples, p).filter((s) => s.ok === false);
    const statuses = (list) => Object.entries(list.reduce((acc, s) => ((acc[s.status] = (acc[s.status] || 0) + 1), acc), {})).map(([s, n]) => `${n}x ${s}`).join(', ') || 'none';
    console.log('');
    for (const p of ['calm', 'flood']) {
      const chain = of(verifies.samples, p).map((s) => s.rows).filter(Number.isFinite);
      console.log(
        `B ${p === 'calm' ? 'without flood' : 'under flood  '}: crash reports ${of(crashReports.samples, p).length}, incidents missed ${missed(p)}, hang incidents (false alarms) ${hangs.filter((h) => h.phase === p).length}; ` +
          `refused: ingest ${statuses([...failedOf(heartbeats.samples, p), ...failedOf(crashReports.samples, p)])}, reads ${statuses([...failedOf(reads.samples, p), ...failedOf(verifies.samples, p)])}; B's chain ${chain.length ? `${Math.min(...chain)}-${Math.max(...chain)}` : '?'} rows`,
      );
    }
    const skipped = [heartbeats, crashReports, reads, verifies].reduce((sum, l) => sum + l.skipped(), 0);
    if (skipped > 0) console.log(`B requests not sent because ${MAX_IN_FLIGHT} of their kind were still waiting: ${skipped}`);
    const fi = floodCounts.ingest;
    const fv = floodCounts.verify;
    const by = (o) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(`\nA achieved (in ${((CONFIG.phaseMs) / 1000).toFixed(0)} s plus the in-flight tail):`);
    console.log(`  ingest: ${fi.sent} requests, ${(fi.bytes / 2 ** 20).toFixed(0)} MiB (${by(fi.byKind)}); answers: ${by(fi.byStatus)} (0 = connection closed before an answer); 202 = accepted, ${fi.eventsAccepted} events stored; 429 = over a quota`);
    console.log(`  answers by kind: ${Object.entries(fi.byKindStatus).map(([k, o]) => `${k} (${by(o)})`).join('; ')}`);
    console.log(`  verify of its own chain: ${fv.sent} calls; answers: ${by(fv.byStatus)}; took p50 ${num(percentile(fv.ms, 50))} ms, p99 ${num(percentile(fv.ms, 99))} ms`);
    diagnosis.print();
    console.log(`\nHow the chain was seeded: auditor.append_audit_entry as the auditor's role, ${SEED_CHUNK} rows per statement.`);
    failed = false;
  } finally {
    await diagnosisStopped?.();
    await nc?.drain().catch(() => undefined);
    await system.stop();
    await nats.stop();
    await database.drop();
    if (failed || process.env.BENCH_KEEP_LOGS) console.error(`logs kept in ${system.logDir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--flood') {
  flood().catch((error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
