// `npm run bench` (audit part): the auditor's append and verify, in process, against its own
// nats-server and database. Prints — never asserts — these figures beside their floor:
//
//   floor    rows/s of a batched plain insert of rows of the same shape into the audit table
//            itself (its partitions and indexes; no append function, chain, seal or checkpoint),
//            as the database's superuser: BENCH_AUDIT_BATCH (100) rows per INSERT and
//            transaction, BENCH_AUDIT_CONCURRENCY (8) at once; and, for reference, the same into
//            a bare table with only the key.
//   append   rows/s recorded by the auditor's append path — what its consumers call for each
//            event they have pulled and whose signature they have checked
//            (`AuditLogService.recordEvent`): BENCH_AUDIT_ROWS incident events over
//            BENCH_AUDIT_TENANTS (4) tenants handed over in stream order, BENCH_AUDIT_IN_FLIGHT
//            (800: four consumers' worth) waiting at once, into the append batches (group
//            commit: per transaction, `append_audit_entries` — each tenant's advisory lock
//            once, head read, seq / prev_hash / hash in SQL, insert — and an Ed25519 seal per
//            tenant over its range signed and inserted), with the checkpoint cadence running
//            (BENCH_AUDIT_CHECKPOINT_EVERY_ROWS, 1000: each checkpoint signed, stored, published to
//            AUDIT_CHECKPOINTS and appended to a file). Goal: ≥ 0.4 × floor.
//   consumed rows/s of the same through the auditor's real consumers, start to end: the signed
//            events (other tenants) are published to the INCIDENTS stream first (not timed), then
//            the consumers start and the clock runs until every row is committed — each event
//            pulled, validated, its Ed25519 signature checked, appended as above, acked after
//            commit. No goal: the signature check and the pull are the price of zero trust on
//            the bus, not of the chain; printed so the whole path's rate is known.
//   verify   rows/s of `verify?full=true` over one tenant's whole chain (hash recomputed, links,
//            seals and checkpoints checked; batches of 1,000 on the read pool).
//
// BENCH_AUDIT_ROWS (20,000) rows per phase; BENCH_AUDIT_ROWS=2000 for a quick look.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { randomUUID } = require('node:crypto');
const { Pool } = require('pg');
const { connect, headers } = require('@nats-io/transport-node');
const { jetstream } = require('@nats-io/jetstream');
const { ROOT } = require('../dev/system.js');
const { roleUrl } = require('../infra/postgres-roles.js');
const { eventSignerFor, signingEnvFor } = require('../dev/signing-keys.js');
const { benchDatabase, sleep, startNats } = require('./support.js');
const { machineTicks, processTicks } = require('./process-cpu.js');

const ROWS = Number(process.env.BENCH_AUDIT_ROWS || 20_000);
const CONCURRENCY = Number(process.env.BENCH_AUDIT_CONCURRENCY || 8);
const TENANTS = Number(process.env.BENCH_AUDIT_TENANTS || 4);
const BATCH = Number(process.env.BENCH_AUDIT_BATCH || 100);
const IN_FLIGHT = Number(process.env.BENCH_AUDIT_IN_FLIGHT || 800);
const CHECKPOINT_EVERY = process.env.BENCH_AUDIT_CHECKPOINT_EVERY_ROWS || '1000';
const OPS_KEY = 'bench_ops_key_0123456789abcdef';

const built = (p) => require(path.join(ROOT, p));

function event(tenantId, i) {
  const { newEvent } = built('libs/contracts/dist/index.js');
  const now = new Date().toISOString();
  const incidentId = randomUUID();
  return newEvent('incident.opened', {
    tenantId,
    producer: 'detector',
    correlationId: incidentId,
    data: { incidentId, service: 'api', instance: `api-${i % 50}`, kind: 'heartbeat_missed', severity: 'major', signalAt: now, detectedAt: now, detectionLatencyMs: 4, evidence: { missed: 3, i } },
  });
}

/** Runs `work(i)` for i in [0, n) with `concurrency` at once; returns seconds taken. */
async function timed(n, concurrency, work) {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await work(next++);
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoheal-bench-audit-'));
  const db = await benchDatabase('bench_audit');
  const nats = await startNats(dir);
  execFileSync(process.execPath, [path.join(ROOT, 'apps/auditor/dist/migrate.js')], {
    env: { ...process.env, DATABASE_MIGRATION_URL: roleUrl(db.url, 'owner'), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  process.env.LOG_LEVEL = 'warn';
  const { loadConfig } = built('apps/auditor/dist/config.js');
  const { createAuditorApp } = built('apps/auditor/dist/auditor.app.js');
  const { auditorMetrics } = built('apps/auditor/dist/auditor.metrics.js');
  const { AuditReadService } = built('apps/auditor/dist/audit-log/audit-read.service.js');
  const { AuditLogService } = built('apps/auditor/dist/audit-log/audit-log.service.js');
  const { subjectFor } = built('libs/contracts/dist/index.js');
  const config = loadConfig({
    ...signingEnvFor(path.join(dir, 'keys'), 'auditor'),
    DATABASE_URL: roleUrl(db.url, 'auditor'),
    DATABASE_READER_URL: roleUrl(db.url, 'auditorReader'),
    NATS_URL: nats.url,
    AUDITOR_PORT: '0',
    AUDITOR_OPS_API_KEY: OPS_KEY,
    AUDITOR_CHECKPOINT_DIR: path.join(dir, 'checkpoints'),
    AUDITOR_FULL_VERIFY_PER_HOUR: '1000000',
    AUDITOR_CHECKPOINT_EVERY_ROWS: CHECKPOINT_EVERY,
    // The consumers start only when the events are on the stream: no lag samples (and their warnings) before.
    AUDITOR_LAG_SAMPLE_INTERVAL_MS: '3600000',
  });
  const app = await createAuditorApp(config, { nestLogs: false });
  await app.init();
  const reader = app.get(AuditReadService);
  const plain = new Pool({ connectionString: db.url, max: CONCURRENCY });
  try {
    const events = Array.from({ length: ROWS }, (_, i) => event(`bench-${i % TENANTS}`, i));
    const consumedEvents = Array.from({ length: ROWS }, (_, i) => event(`consumed-${i % TENANTS}`, i));

    // CPU seconds of this process (the auditor runs in it), of the database's backends, and of the whole machine.
    const backendPids = async () => (await plain.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)).rows.map((r) => r.pid);
    const cpuMark = async () => {
      const pids = await backendPids();
      return { node: process.cpuUsage(), backends: new Map(pids.map((pid) => [pid, processTicks(pid)])), machine: machineTicks(), at: performance.now() };
    };
    const cpuSince = (mark) => {
      const node = process.cpuUsage(mark.node);
      let ticks = 0;
      for (const [pid, before] of mark.backends) {
        const now = processTicks(pid);
        if (now !== undefined && before !== undefined) ticks += now - before;
      }
      const machine = machineTicks();
      const seconds = (performance.now() - mark.at) / 1000;
      return { node: (node.user + node.system) / 1e6, pg: ticks / 100, machineBusy: (machine.busy - mark.machine.busy) / 100, machineTotal: (machine.total - mark.machine.total) / 100, seconds };
    };
    const cpuLine = (c, rows) =>
      `CPU per row: this process ${((c.node / rows) * 1e6).toFixed(0)} µs, its Postgres backends ${((c.pg / rows) * 1e6).toFixed(0)} µs; the machine ${((100 * c.machineBusy) / Math.max(0.01, c.machineTotal)).toFixed(0)} % busy`;

    // Floors: rows of the same shape (events of their own: the log's event ids must not repeat), batched
    // plain INSERTs as the database's superuser (no role, no RLS), no chain, no seal, no checkpoint —
    // into the audit table itself (its partitions and indexes: what the goal is measured against), and
    // into a bare table with only the key (for reference).
    const floorEvents = Array.from({ length: ROWS }, (_, i) => event(`floor-${i % TENANTS}`, i));
    await plain.query(`CREATE TABLE public.plain_audit (LIKE auditor.audit_log INCLUDING DEFAULTS)`);
    await plain.query(`ALTER TABLE public.plain_audit ADD PRIMARY KEY (tenant_id, seq)`);
    const batches = Math.ceil(ROWS / BATCH);
    // Every connection of the pool open before a mark, so their backends are counted.
    await Promise.all(Array.from({ length: CONCURRENCY }, () => plain.query('SELECT pg_sleep(0.05)')));
    const floor = async (table) => {
      const mark = await cpuMark();
      const seconds = await timed(batches, CONCURRENCY, async (b) => {
        const values = [];
        const params = [];
        for (let i = b * BATCH; i < Math.min(ROWS, (b + 1) * BATCH); i++) {
          const e = floorEvents[i];
          params.push(e.tenantId, Math.floor(i / TENANTS) + 1, e.id, e.type, e.occurredAt, 'detector', 'incident.open', JSON.stringify({ instance: e.data.instance }), subjectFor(e), e.correlationId, JSON.stringify(e));
          const n = params.length;
          values.push(`($${n - 10}, $${n - 9}, $${n - 8}, $${n - 7}, $${n - 6}, now(), $${n - 5}, $${n - 4}, $${n - 3}::jsonb, 'info', $${n - 2}, $${n - 1}, NULL, NULL, $${n}::jsonb, repeat('0', 64), repeat('0', 64))`);
        }
        await plain.query(
          `INSERT INTO ${table} (tenant_id, seq, event_id, event_type, occurred_at, recorded_at, actor, action, resource, outcome, source, correlation_id, causation_id, trace_id, payload, prev_hash, hash) VALUES ${values.join(', ')}`,
          params,
        );
      });
      return { seconds, cpu: cpuSince(mark) };
    };
    const bareFloor = await floor('public.plain_audit');
    const tableFloor = await floor('auditor.audit_log');
    const rowCount = async () => Number((await plain.query(`SELECT count(*) AS n FROM auditor.audit_log WHERE tenant_id NOT LIKE 'floor-%'`)).rows[0].n);
    const batchStats = async () => {
      const values = (await auditorMetrics.appendBatchRows.get()).values;
      return {
        count: values.find((v) => v.metricName.endsWith('_count'))?.value ?? 0,
        sum: values.find((v) => v.metricName.endsWith('_sum'))?.value ?? 0,
        splits: (await auditorMetrics.appendBatchesSplit.get()).values[0]?.value ?? 0,
      };
    };
    const perPhase = (before, after) => ({ count: after.count - before.count, sum: after.sum - before.sum, splits: after.splits - before.splits });
    // Append: the events handed to the append path in stream order, IN_FLIGHT waiting at once (a consumer's window).
    const audit = app.get(AuditLogService);
    const directLoad = os.loadavg()[0];
    const directStats = await batchStats();
    // The pool's connections exist from the first append on: open them first, so their backends are counted.
    await audit.recordEvent(event('bench-warm', 0), { subject: 'incident.bench-warm.opened' });
    const directCpu = await cpuMark();
    const directSeconds = await timed(ROWS, IN_FLIGHT, (i) => audit.recordEvent(events[i], { subject: subjectFor(events[i]) }));
    const directCpuUsed = cpuSince(directCpu);
    const directBatches = perPhase(directStats, await batchStats());
    const directLoadAfter = os.loadavg()[0];

    // Consumed: other tenants' events on the stream first, then the auditor's consumers drain it.
    const sign = eventSignerFor(path.join(dir, 'keys'), 'detector');
    const nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    await timed(ROWS, 64, async (i) => {
      const e = consumedEvents[i];
      const bytes = Buffer.from(JSON.stringify(e));
      const h = headers();
      for (const [k, v] of Object.entries(sign(bytes))) h.set(k, v);
      await js.publish(subjectFor(e), bytes, { headers: h, msgID: e.id });
    });
    await nc.close();
    const consumedStats = await batchStats();
    const consumedLoad = os.loadavg()[0];
    const consumedCpu = await cpuMark();
    const consumedStarted = process.hrtime.bigint();
    await app.startAllMicroservices();
    const deadline = Date.now() + 30 * 60_000;
    while ((await rowCount()) < 2 * ROWS + 1) {
      if (Date.now() > deadline) throw new Error(`only ${(await rowCount()) - ROWS - 1} of ${ROWS} consumed rows after 30 minutes`);
      await sleep(25);
    }
    const consumedSeconds = Number(process.hrtime.bigint() - consumedStarted) / 1e9;
    const consumedCpuUsed = cpuSince(consumedCpu);
    const consumedBatches = perPhase(consumedStats, await batchStats());
    const consumedLoadAfter = os.loadavg()[0];
    const counts = await plain.query(`SELECT (SELECT count(*) FROM auditor.audit_log WHERE tenant_id NOT LIKE 'floor-%') AS rows, (SELECT count(*) FROM auditor.audit_seals) AS seals, (SELECT count(*) FROM auditor.checkpoints) AS checkpoints`);

    const caller = { actor: 'bench', source: 'bench', scope: { kind: 'all' } };
    const verifyStarted = process.hrtime.bigint();
    const report = await reader.verify('bench-0', caller, { full: true });
    const verifySeconds = Number(process.hrtime.bigint() - verifyStarted) / 1e9;

    const floorRate = ROWS / tableFloor.seconds;
    const bareRate = ROWS / bareFloor.seconds;
    const directRate = ROWS / directSeconds;
    const consumedRate = ROWS / consumedSeconds;
    const c = counts.rows[0];
    const batchLine = (b) => `${b.count} append transactions, ${(b.sum / Math.max(1, b.count)).toFixed(1)} events each on average, ${b.splits} split`;
    const cpus = os.cpus().length;
    console.log(`audit append (${ROWS} rows a phase, ${TENANTS} tenants; ${c.rows} rows, ${c.seals} seals, ${c.checkpoints} checkpoints stored)`);
    console.log(`  floor: batched plain insert into the audit table (${BATCH} rows/statement)   ${floorRate.toFixed(0).padStart(8)} rows/s`);
    console.log(`    ${cpuLine(tableFloor.cpu, ROWS)}`);
    console.log(`  for reference, the same into a bare table (only the key) ${bareRate.toFixed(0).padStart(8)} rows/s`);
    console.log(`    ${cpuLine(bareFloor.cpu, ROWS)}`);
    console.log(`  append with chain, seal and checkpoints             ${directRate.toFixed(0).padStart(8)} rows/s   ${(directRate / floorRate).toFixed(2)}x the floor (goal >= 0.4x), ${(directRate / bareRate).toFixed(2)}x the bare table`);
    console.log(`    ${batchLine(directBatches)}; load average ${directLoad.toFixed(1)} → ${directLoadAfter.toFixed(1)} on ${cpus} CPUs`);
    console.log(`    ${cpuLine(directCpuUsed, ROWS)}`);
    console.log(`  the same through the consumers (pull, signature check, ack) ${consumedRate.toFixed(0).padStart(8)} rows/s   ${(consumedRate / floorRate).toFixed(2)}x the floor (no goal)`);
    console.log(`    ${batchLine(consumedBatches)}; load average ${consumedLoad.toFixed(1)} → ${consumedLoadAfter.toFixed(1)} on ${cpus} CPUs`);
    console.log(`    ${cpuLine(consumedCpuUsed, ROWS)} (the consumers' connections to nats-server not counted)`);
    console.log(`  verify?full=true (${report.checkedRows} rows of one tenant, ok=${report.ok})  ${(report.checkedRows / verifySeconds).toFixed(0).padStart(8)} rows/s`);
  } finally {
    await plain.end();
    await app.close();
    await nats.stop();
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
