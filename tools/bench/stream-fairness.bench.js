// One tenant's batches against another's single event on the shared HEALTH stream, NATS alone.
//
// Every tenant's health events go to one JetStream stream, which stores them one after another,
// each synced to disk before it is acknowledged (`sync_interval: always`, as in production). The
// detector's HTTP ingest publishes a request's events and waits for every acknowledgement. This
// bench asks what another tenant's single publish waits for while tenant A's batches go in:
//   floor        B alone: one event every BENCH_STREAM_B_EVERY_MS (25), its publish timed to its ack
//   all at once  A publishes BENCH_STREAM_A_BATCH (50) events at once, BENCH_STREAM_A_BATCHES_PER_SEC
//                (4) times a second (what the ingest did before the per-tenant limit)
//   8 in flight  the same batches with at most INGEST_PUBLISHES_IN_FLIGHT_PER_TENANT of A's
//                publishes waiting for their ack at once (what the detector's ingest does now)
// Prints B's p50/p99 per phase, the ratio of its p99 to the floor's, and how many events A got
// stored. Phases of BENCH_STREAM_PHASE_MS (10000), repeated BENCH_STREAM_ROUNDS (3) times in turn.
// BENCH_STREAM_SYNC_ALWAYS=0 runs the server at its default sync interval instead, for comparison.
// Alone: `npx tsc -b tsconfig.build.json && node tools/bench/stream-fairness.bench.js`.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { connect } = require('@nats-io/transport-node');
const { jetstream, jetstreamManager } = require('@nats-io/jetstream');
const { percentile, sleep, startNats } = require('./support.js');
const { INGEST_PUBLISHES_IN_FLIGHT_PER_TENANT } = require('../../apps/detector/dist/ingest/ingest.service.js');

const env = (name, fallback) => Number(process.env[name] || fallback);
const CONFIG = {
  phaseMs: env('BENCH_STREAM_PHASE_MS', 10_000),
  rounds: env('BENCH_STREAM_ROUNDS', 3),
  bEveryMs: env('BENCH_STREAM_B_EVERY_MS', 25),
  aBatch: env('BENCH_STREAM_A_BATCH', 50),
  aBatchesPerSec: env('BENCH_STREAM_A_BATCHES_PER_SEC', 4),
  syncAlways: process.env.BENCH_STREAM_SYNC_ALWAYS !== '0',
};
/** About the size of a heartbeat event. */
const BODY = Buffer.alloc(290, 120);

/** Publishes `count` events, at most `inFlight` waiting for their ack at once, in order. */
async function publishBatch(js, subject, count, inFlight, next) {
  let sent = 0;
  const lane = async () => {
    while (sent < count) {
      sent++;
      await js.publish(subject, BODY, { msgID: `a-${next()}` });
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane));
}

async function phase(jsA, jsB, inFlight) {
  let stop = false;
  let n = 0;
  let stored = 0;
  const everyMs = 1_000 / CONFIG.aBatchesPerSec;
  const flood = (async () => {
    while (inFlight > 0 && !stop) {
      const t0 = performance.now();
      await publishBatch(jsA, 'health.bench-a.api.a-1', CONFIG.aBatch, inFlight, () => n++);
      stored += CONFIG.aBatch;
      await sleep(Math.max(0, everyMs - (performance.now() - t0)));
    }
  })();
  const ms = [];
  const end = Date.now() + CONFIG.phaseMs;
  for (let m = 0; Date.now() < end; m++) {
    const t0 = performance.now();
    await jsB.publish('health.bench-b.api.b-1', BODY, { msgID: `b-${Date.now()}-${m}` });
    ms.push(performance.now() - t0);
    await sleep(CONFIG.bEveryMs);
  }
  stop = true;
  await flood;
  return { ms, stored };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoheal-stream-fairness-'));
  const nats = await startNats(dir, { syncAlways: CONFIG.syncAlways });
  const load = [os.loadavg()];
  const ncA = await connect({ servers: nats.url });
  const ncB = await connect({ servers: nats.url });
  try {
    await (await jetstreamManager(ncA)).streams.add({ name: 'HEALTH', subjects: ['health.>'], storage: 'file', duplicate_window: 120e9 });
    const jsA = jetstream(ncA);
    const jsB = jetstream(ncB);
    for (let i = 0; i < 50; i++) await jsB.publish('health.bench-b.api.warmup', BODY);
    const kinds = [
      ['B alone (floor)', 0],
      [`A's batches of ${CONFIG.aBatch} all at once`, CONFIG.aBatch],
      [`A's batches, at most ${INGEST_PUBLISHES_IN_FLIGHT_PER_TENANT} in flight`, INGEST_PUBLISHES_IN_FLIGHT_PER_TENANT],
    ];
    const results = new Map(kinds.map(([name]) => [name, { ms: [], stored: 0 }]));
    for (let round = 0; round < CONFIG.rounds; round++) {
      for (const [name, inFlight] of kinds) {
        process.stdout.write(`stream-fairness bench: round ${round + 1}, ${name}…\n`);
        const r = await phase(jsA, jsB, inFlight);
        results.get(name).ms.push(...r.ms);
        results.get(name).stored += r.stored;
      }
    }
    load.push(os.loadavg());
    const floor = percentile(results.get(kinds[0][0]).ms, 99);
    console.log(`\nautoheal stream-fairness benchmark — B's single publish while A's batches go to the same stream (${CONFIG.syncAlways ? 'sync_interval: always' : "the server's default sync interval"})`);
    console.log(`node ${process.version}, ${os.cpus().length} cores; ${CONFIG.rounds} rounds of ${CONFIG.phaseMs / 1000} s per phase; A: ${CONFIG.aBatchesPerSec} batches of ${CONFIG.aBatch} a second; B: one event every ${CONFIG.bEveryMs} ms`);
    console.log(`load average at the start ${load[0].map((l) => l.toFixed(2)).join(' ')}, at the end ${load[1].map((l) => l.toFixed(2)).join(' ')}\n`);
    console.log(`${'phase'.padEnd(42)} ${'B p50'.padStart(9)} ${'B p90'.padStart(9)} ${'B p99'.padStart(9)} ${'n'.padStart(5)} ${'p99 / floor'.padStart(12)} ${'A stored /s'.padStart(12)}`);
    for (const [name] of kinds) {
      const r = results.get(name);
      const p99 = percentile(r.ms, 99);
      console.log(`${name.padEnd(42)} ${percentile(r.ms, 50).toFixed(2).padStart(9)} ${percentile(r.ms, 90).toFixed(2).padStart(9)} ${p99.toFixed(2).padStart(9)} ${String(r.ms.length).padStart(5)} ${`${(p99 / floor).toFixed(1)}x`.padStart(12)} ${(r.stored / ((CONFIG.rounds * CONFIG.phaseMs) / 1000)).toFixed(0).padStart(12)}`);
    }
  } finally {
    await ncA.close();
    await ncB.close();
    await nats.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
