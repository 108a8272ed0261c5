// `npm run bench` (second part): the detector alone, as one process, against its own nats-server
// and database. Prints — never asserts — these figures beside the targets of the detector issue:
//
//   throughput  heartbeats/s one detector evaluates with BENCH_DETECTOR_INSTANCES (100,000)
//               instances tracked: the detector is paused (SIGSTOP) while one heartbeat per
//               instance is published, then resumed, and its durable consumer is polled until
//               nothing is pending or unacknowledged. The same messages are then drained by
//               raw durable pull consumers in this process (ack per message, no decoding), one
//               pulling the detector's batch size and one pulling 1,000 at a time, measured the
//               same way; the ratios are detector / raw. BENCH_DETECTOR_ROUNDS (3) rounds, each
//               figure the median of the rounds' (one drain alone moved by ±40 % here).
//   latency     hang: instances heartbeating every 100 ms stop one by one; from each incident's
//               signalAt (the heartbeat deadline) to the incident.opened message arriving here.
//               crash: health.exited published for tracked instances; from the publish to the
//               incident.opened arriving here ("n/a" when the detector opens nothing for it).
//               Each has a floor measured in the same run: what one incident costs this
//               machine without the detector (a bare commit, publish and receipt; for crashes
//               also the consume), and the ratio to it.
//               Both also print when JetStream stored that incident.opened (its server
//               timestamp, read back afterwards), which leaves out this process's own delay.
//               Only instance-scope incidents count; the service-level incidents the detector
//               also opens (instance `*`) are counted on a line of their own.
//   memory      VmRSS of the detector process before any instance and after all of them (and
//               one snapshot flush), divided by the number of instances.
//
// The raw JetStream rate is the floor, measured in the same run on the same messages; the
// issue's targets are printed beside each figure. At the default size the whole run takes
// about 2 minutes on 2 cores (BENCH_DETECTOR_INSTANCES=5000 for a quick look).
//
// BENCH_DETECTOR_PROFILE=1 runs the detector with --cpu-prof and prints its top self-time
// functions at the end, and keeps the profile and the detector's log. BENCH_DETECTOR_NODE_ARGS
// adds node flags to the detector process (`--trace-gc`, say; it prints to that log).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { connect } = require('@nats-io/transport-node');
const { Pool } = require('pg');
const { jetstream, jetstreamManager, AckPolicy, DeliverPolicy, StorageType } = require('@nats-io/jetstream');
const { newEvent, subjectFor, STREAMS } = require('@autoheal/contracts');
const { waitForHealth, ROOT } = require('../dev/system.js');
const { roleUrl } = require('../infra/postgres-roles.js');
const { signingEnvFor } = require('../dev/signing-keys.js');
const { benchDatabase, freePort, percentile, sleep, startNats } = require('./support.js');

const INSTANCES = Number(process.env.BENCH_DETECTOR_INSTANCES || 100_000);
const HANG_INSTANCES = Number(process.env.BENCH_HANG_INSTANCES || 200);
const CRASH_INSTANCES = Number(process.env.BENCH_CRASH_INSTANCES || 200);
const PUBLISH_WINDOW = Number(process.env.BENCH_PUBLISH_WINDOW || 2_000);
const THROUGHPUT_ROUNDS = Number(process.env.BENCH_DETECTOR_ROUNDS || 3);
const PROFILE = process.env.BENCH_DETECTOR_PROFILE === '1';
const SNAPSHOT_INTERVAL_MS = 2_000;
/** The longest interval the contract allows: no deadline of the tracked fleet fires during the run. */
const QUIET_INTERVAL_MS = 600_000;
const HANG_INTERVAL_MS = 100;
/** The hang instances stop one by one over this long. */
const STOP_WINDOW_MS = 2_000;
const CRASH_INTERVAL_MS = 10_000;
/** The exits are published at random moments over this long. */
const CRASH_WINDOW_MS = 2_000;
const MISSED_INTERVALS = 3;
const MEMBER_TTL_MS = 300_000;
const RAW_BATCH = 512; // what the detector's consumer pulls at a time (HEALTH_PULL_BATCH in apps/detector)
const RAW_LARGE_BATCH = 1_000; // what a consumer tuned for throughput would pull
const OTEL_PRELOAD = path.join(ROOT, 'libs/telemetry/dist/register.js');

const TARGETS = { eventsPerSecond: 50_000, ratio: 0.6, crashP99Ms: 50, hangP99Ms: 10, bytesPerInstance: 2048 };

const encoder = new TextEncoder();

function vmRssBytes(pid) {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line)[1]) * 1024;
}

/** The built detector as a process, with the same preload the dev runner uses. */
async function startDetector({ natsUrl, databaseUrl, dir }) {
  const port = await freePort();
  const logPath = path.join(dir, 'detector.log');
  const log = fs.openSync(logPath, 'a');
  const profileDir = path.join(dir, 'profile');
  const args = ['--require', OTEL_PRELOAD, ...(process.env.BENCH_DETECTOR_NODE_ARGS || '').split(' ').filter(Boolean), ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), path.join(ROOT, 'apps/detector/dist/main.js')];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      NATS_URL: natsUrl,
      DATABASE_URL: roleUrl(databaseUrl, 'detector'),
      DETECTOR_PORT: String(port),
      ...signingEnvFor(path.join(dir, 'keys'), 'detector'),
      DETECTOR_MISSED_INTERVALS: String(MISSED_INTERVALS),
      DETECTOR_SNAPSHOT_INTERVAL_MS: String(SNAPSHOT_INTERVAL_MS),
      // The throughput phase pauses the detector (SIGSTOP) for seconds while it publishes the
      // backlog. With the default 3 s membership TTL the detector woke up to find its own
      // announcement expired, gave up every partition, took them back and reloaded its state
      // from snapshots and a stream replay inside the measured drain: a takeover, not
      // throughput. A TTL longer than any pause here keeps the drain a drain.
      DETECTOR_MEMBER_TTL_MS: String(MEMBER_TTL_MS),
      LOG_LEVEL: 'warn',
      OTEL_SERVICE_NAME: 'detector',
    },
    stdio: ['ignore', log, log],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitForHealth('detector', port, 60_000, logPath);
  return {
    pid: child.pid,
    logPath,
    profileDir,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      fs.closeSync(log);
    },
  };
}

/** Async publishes, at most `window` unacknowledged at once; returns the last stream sequence. */
async function publishAll(js, messages, window = PUBLISH_WINDOW) {
  let last = 0;
  for (let i = 0; i < messages.length; i += window) {
    const acks = await Promise.all(messages.slice(i, i + window).map((m) => js.publish(m.subject, m.data, { msgID: m.id })));
    for (const a of acks) last = Math.max(last, a.seq);
  }
  return last;
}

function encode(event) {
  return { subject: subjectFor(event), data: encoder.encode(JSON.stringify(event)), id: event.id };
}

function heartbeat(tenantId, service, instance, intervalMs, sequence) {
  return newEvent('health.heartbeat', { tenantId, producer: 'detector-bench', data: { service, instance, intervalMs, sequence } });
}

/** The tracked fleet: 1,000 tenants x 10 services x 10 instances at the default size. */
function fleetRefs(count) {
  const refs = [];
  for (let i = 0; i < count; i++) refs.push({ tenantId: `t${Math.floor(i / 100)}`, service: `svc${Math.floor(i / 10) % 10}`, instance: `i${i % 10}` });
  return refs;
}

/** Polls a durable until it has acknowledged everything up to `lastSeq`; returns when it saw that. */
async function waitDrained(jsm, durable, lastSeq, timeoutMs = 240_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await jsm.consumers.info(STREAMS.health.name, durable);
    if (info.num_pending === 0 && info.num_ack_pending === 0 && info.ack_floor.stream_seq >= lastSeq) return performance.now();
    if (Date.now() > deadline) throw new Error(`${durable} did not drain to ${lastSeq} in ${timeoutMs} ms: ${JSON.stringify({ pending: info.num_pending, ackPending: info.num_ack_pending, ackFloor: info.ack_floor })}`);
    await sleep(10);
  }
}

/** Raw JetStream: a durable pull consumer that acks each message and does nothing else. */
async function rawDrain(nc, jsm, firstSeq, lastSeq, batch) {
  const durable = `bench-raw-${batch}`;
  await jsm.consumers.add(STREAMS.health.name, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: firstSeq,
    filter_subject: 'health.>',
    max_ack_pending: Math.max(1000, batch * 4), // as the detector's consumer (maxAckPending 4 × its pull size)
  });
  const consumer = await jetstream(nc).consumers.get(STREAMS.health.name, durable);
  const t0 = performance.now();
  const messages = await consumer.consume({ max_messages: batch });
  const loop = (async () => {
    for await (const m of messages) m.ack();
  })();
  const t1 = await waitDrained(jsm, durable, lastSeq);
  await messages.close();
  await loop;
  await jsm.consumers.delete(STREAMS.health.name, durable);
  return { count: lastSeq - firstSeq + 1, ms: t1 - t0 };
}

/**
 * incident.opened for one tenant, with when each arrived here. Only instance-scope incidents
 * are figures: once half of a service's instances fail the detector also opens one
 * service-level incident (instance `*`, same kind), which has no publish time or deadline of
 * its own here — counting it used to end the wait loops early and, for crashes, put NaN
 * latencies into the percentiles. Those are counted apart in `serviceLevel`.
 */
function collectOpened(nc, tenantId) {
  const seen = [];
  const firstByInstance = new Set();
  let serviceLevel = 0;
  let duplicates = 0;
  let republished = 0;
  const ids = new Set();
  const sub = nc.subscribe(`incident.${tenantId}.opened`, {
    callback: (_e, msg) => {
      const receivedAt = Date.now();
      const event = msg.json();
      if (event.data.scope !== 'instance') {
        serviceLevel++;
        return;
      }
      // The same event seen again was published twice (stored once, deduplicated by id): not a
      // second incident, and not a second sample.
      if (ids.has(event.id)) {
        republished++;
        return;
      }
      ids.add(event.id);
      // One figure per instance and kind: a second open of the same one would be a detector
      // bug to report, not a second sample.
      const key = `${event.data.instance}/${event.data.kind}`;
      if (firstByInstance.has(key)) {
        duplicates++;
        return;
      }
      firstByInstance.add(key);
      seen.push({ receivedAt, id: event.id, data: event.data });
    },
  });
  return { seen, serviceLevel: () => serviceLevel, duplicates: () => duplicates, republished: () => republished, stop: () => sub.unsubscribe() };
}

/**
 * When JetStream stored each incident.opened of `subject` (server timestamp, same machine
 * clock), read back after the phase so reading adds no load while timing.
 * That is when the detector's work was done; "received here" also includes this process's
 * own delivery delay, which on a small, busy machine is not the detector's.
 */
async function storedAt(nc, jsm, subject, expected) {
  const out = new Map();
  // A plain durable with one filter_subject: the ordered consumer of nats.js asks for
  // filter_subjects, which the nats-server 2.9 that apt installs refuses.
  const durable = `bench-stored-${subject.split('.')[1]}`;
  await jsm.consumers.add(STREAMS.incidents.name, { durable_name: durable, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, filter_subject: subject });
  try {
    const consumer = await jetstream(nc).consumers.get(STREAMS.incidents.name, durable);
    while (out.size < expected) {
      const before = out.size;
      const batch = await consumer.fetch({ max_messages: 500, expires: 1_000 });
      for await (const m of batch) out.set(m.json().id, Number(m.info.timestampNanos) / 1e6);
      if (out.size === before) break;
    }
  } finally {
    await jsm.consumers.delete(STREAMS.incidents.name, durable);
  }
  return out;
}

/** One row in a transaction of its own: BEGIN, one insert, COMMIT, as the detector's smallest write. */
async function commitOneRow(pool, id) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('INSERT INTO bench_floor (id, at) VALUES ($1, now())', [id]);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

/**
 * The floor under a hang figure, measured in the same run and at the same moments: a bare
 * writer that, at a heartbeat tick (when the detector's deadlines fire too), commits one row to
 * Postgres in a transaction of its own, publishes one message to the incident stream and waits
 * for it to arrive here: what one incident costs this machine before any detector logic.
 * `perTick` such writes start at each tick, as many as the deadlines that share one.
 */
function hangFloor(nc, js, pool, perTick) {
  const tenantId = 'benchfloor';
  const waiting = new Map();
  const sub = nc.subscribe(`incident.${tenantId}.opened`, { callback: (_e, msg) => waiting.get(msg.string())?.(Date.now()) });
  const latencies = [];
  let n = 0;
  const write = async (startedAt, record) => {
    const id = `floor-${n++}`;
    const received = new Promise((resolve) => waiting.set(id, resolve));
    await commitOneRow(pool, id);
    await js.publish(`incident.${tenantId}.opened`, encoder.encode(id), { msgID: id });
    const at = await received;
    if (record) latencies.push(at - startedAt);
  };
  const pending = [];
  let ticks = 0;
  return {
    tick() {
      const at = Date.now();
      // The first tick only warms up: it opens the pool's connections, which the detector's
      // pool holds open long before its first incident.
      const record = ticks++ > 0;
      for (let i = 0; i < perTick; i++) pending.push(write(at, record).catch(() => undefined));
    },
    async done() {
      await Promise.all(pending);
      sub.unsubscribe();
      return latencies;
    },
  };
}

/**
 * The floor under the crash figure, measured in the same run just before it and paced the same
 * way: a message published to a JetStream stream of its own, pulled by a bare durable consumer
 * in this process that commits one row in a transaction of its own, publishes one message to the
 * incident stream and acks, and that message's arrival here. It is what an event-driven incident
 * costs this machine before any detector logic.
 */
async function crashFloor(nc, js, jsm, pool) {
  const stream = 'BENCH_FLOOR';
  await jsm.streams.add({ name: stream, subjects: ['benchfloor.>'], storage: StorageType.File });
  await jsm.consumers.add(stream, { durable_name: 'bench-floor', ack_policy: AckPolicy.Explicit, filter_subject: 'benchfloor.>', max_ack_pending: RAW_BATCH * 4 });
  const messages = await jetstream(nc).consumers.get(stream, 'bench-floor').then((c) => c.consume({ max_messages: RAW_BATCH }));
  const handled = [];
  const loop = (async () => {
    for await (const m of messages) {
      const id = m.string();
      handled.push(
        (async () => {
          await commitOneRow(pool, id);
          await js.publish('incident.benchcrashfloor.opened', encoder.encode(id), { msgID: id });
          m.ack();
        })().catch(() => undefined), // a lost one shows as a missing sample, as in hangFloor
      );
    }
  })();
  const publishedAt = new Map();
  const latencies = [];
  const sub = nc.subscribe('incident.benchcrashfloor.opened', { callback: (_e, msg) => latencies.push(Date.now() - publishedAt.get(msg.string())) });
  await Promise.all(
    Array.from({ length: CRASH_INSTANCES }, (_, i) =>
      sleep(Math.random() * CRASH_WINDOW_MS).then(async () => {
        const id = `crash-floor-${i}`;
        publishedAt.set(id, Date.now());
        await js.publish(`benchfloor.exited.${i}`, encoder.encode(id), { msgID: id });
      }),
    ),
  );
  const deadline = Date.now() + 5_000;
  while (latencies.length < CRASH_INSTANCES && Date.now() < deadline) await sleep(20);
  sub.unsubscribe();
  await messages.close();
  await loop;
  await Promise.all(handled);
  await jsm.streams.delete(stream);
  return latencies;
}

async function measureHang(nc, js, jsm, pool) {
  const tenantId = 'benchhang';
  const refs = Array.from({ length: HANG_INSTANCES }, (_, i) => ({ service: `api${i % 10}`, instance: `h${i}` }));
  const alive = new Set(refs.map((_, i) => i));
  const opened = collectOpened(nc, tenantId);
  let sequence = 0;
  const beat = () =>
    Promise.all(
      [...alive].map((i) => {
        const m = encode(heartbeat(tenantId, refs[i].service, refs[i].instance, HANG_INTERVAL_MS, ++sequence));
        return js.publish(m.subject, m.data, { msgID: m.id });
      }),
    );
  // While all of them beat, the floor: as many bare writes per tick as deadlines will share one
  // (the instances stop over STOP_WINDOW_MS, so about HANG_INSTANCES / its ticks per tick).
  const ticks = STOP_WINDOW_MS / HANG_INTERVAL_MS;
  const floor = hangFloor(nc, js, pool, Math.max(1, Math.round(HANG_INSTANCES / ticks)));
  let floorTicks = 0;
  // Once per announced interval, as the SDK's health reporter does. (Beating twice per interval
  // doubled the load for nothing — three missed intervals is margin enough — and on a small
  // machine that extra load alone delayed this process's receipt of the incidents.)
  const ticker = setInterval(() => {
    void beat().catch(() => undefined);
    // The first second only warms up; then one floor round per tick, as many ticks as the stops
    // take, after one round that warms the floor's own connections.
    if (sequence > HANG_INSTANCES * 10 && floorTicks <= ticks) {
      floorTicks++;
      floor.tick();
    }
  }, HANG_INTERVAL_MS);
  while (floorTicks <= ticks) await sleep(HANG_INTERVAL_MS);
  const floorLatencies = await floor.done();
  await sleep(HANG_INTERVAL_MS * MISSED_INTERVALS);
  // Stop them one by one, so the figure is per incident, not one burst.
  const stops = refs.map((_, i) => sleep(Math.random() * STOP_WINDOW_MS).then(() => alive.delete(i)));
  await Promise.all(stops);
  clearInterval(ticker);
  const deadline = Date.now() + 15_000;
  while (opened.seen.length < HANG_INSTANCES && Date.now() < deadline) await sleep(50);
  opened.stop();
  const hung = opened.seen.filter((o) => o.data.kind === 'heartbeat_missed');
  const stored = await storedAt(nc, jsm, `incident.${tenantId}.opened`, hung.length + opened.serviceLevel() + opened.duplicates());
  return {
    count: hung.length,
    otherKinds: opened.seen.length - hung.length,
    serviceLevel: opened.serviceLevel(),
    duplicates: opened.duplicates(),
    republished: opened.republished(),
    pastDeadline: hung.map((o) => o.receivedAt - Date.parse(o.data.signalAt)),
    storedPastDeadline: hung.filter((o) => stored.has(o.id)).map((o) => stored.get(o.id) - Date.parse(o.data.signalAt)),
    reported: hung.map((o) => o.data.detectionLatencyMs).filter((v) => typeof v === 'number'),
    floor: floorLatencies,
  };
}

async function measureCrash(nc, js, jsm, durable) {
  const tenantId = 'benchcrash';
  const refs = Array.from({ length: CRASH_INSTANCES }, (_, i) => ({ service: `api${i % 10}`, instance: `c${i}` }));
  // Tracked first, as a live instance would be. Their deadline (3 x 10 s) is far beyond this
  // phase, so no hang of theirs can fire while the exits are measured.
  const lastSeq = await publishAll(js, refs.map((r, i) => encode(heartbeat(tenantId, r.service, r.instance, CRASH_INTERVAL_MS, i))));
  await waitDrained(jsm, durable, lastSeq);
  const opened = collectOpened(nc, tenantId);
  const publishedAt = new Map();
  await Promise.all(
    refs.map((r) =>
      sleep(Math.random() * CRASH_WINDOW_MS).then(async () => {
        const event = newEvent('health.exited', { tenantId, producer: 'detector-bench', data: { service: r.service, instance: r.instance, exitCode: 137, signal: 'SIGKILL', observedBy: 'agent' } });
        const m = encode(event);
        publishedAt.set(r.instance, Date.now());
        await js.publish(m.subject, m.data, { msgID: m.id });
      }),
    ),
  );
  // Well inside the heartbeat deadline (30 s): anything opened in this window came from the exit itself.
  const deadline = Date.now() + 5_000;
  while (opened.seen.length < CRASH_INSTANCES && Date.now() < deadline) await sleep(20);
  opened.stop();
  const crashed = opened.seen.filter((o) => o.data.kind === 'crashed');
  const stored = await storedAt(nc, jsm, `incident.${tenantId}.opened`, crashed.length + opened.serviceLevel() + opened.duplicates());
  return {
    count: crashed.length,
    otherKinds: opened.seen.length - crashed.length,
    serviceLevel: opened.serviceLevel(),
    duplicates: opened.duplicates(),
    republished: opened.republished(),
    latencies: crashed.map((o) => o.receivedAt - publishedAt.get(o.data.instance)),
    storedLatencies: crashed.filter((o) => stored.has(o.id)).map((o) => stored.get(o.id) - publishedAt.get(o.data.instance)),
  };
}

function summarizeProfile(dir, top = 15) {
  if (!fs.existsSync(dir)) return [];
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return [];
  const profile = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const cf = node.callFrame;
    const where = cf.url ? `${path.relative(ROOT, cf.url.replace(/^file:\/\//, ''))}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    selfUs.set(key, (selfUs.get(key) || 0) + (profile.timeDeltas[i] || 0));
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  return [...selfUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / total }));
}

async function main() {
  const started = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoheal-detector-bench-'));
  const nats = await startNats(dir);
  const database = await benchDatabase('autoheal_bench_detector');
  const databaseUrl = database.url;
  execFileSync(process.execPath, [path.join(ROOT, 'apps/detector/dist/migrate.js')], { env: { ...process.env, DATABASE_MIGRATION_URL: roleUrl(databaseUrl, 'owner'), LOG_LEVEL: 'warn' }, stdio: ['ignore', 'inherit', 'inherit'] });

  let detector;
  const nc = await connect({ servers: nats.url });
  const results = {};
  try {
    detector = await startDetector({ natsUrl: nats.url, databaseUrl, dir });
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    // The detector's own durable on HEALTH, whatever it is called.
    let durable;
    for (let i = 0; i < 100 && !durable; i++) {
      const names = (await jsm.consumers.list(STREAMS.health.name).next()).map((c) => c.name);
      durable = names.find((n) => !n.startsWith('bench-'));
      if (!durable) await sleep(100);
    }
    if (!durable) throw new Error('the detector created no consumer on HEALTH');
    await sleep(2_000);
    const rssBefore = vmRssBytes(detector.pid);

    // 1. Every instance seen once (publishing and consuming overlap), then memory.
    const refs = fleetRefs(INSTANCES);
    process.stdout.write(`detector bench: tracking ${INSTANCES} instances…\n`);
    const firstRound = refs.map((r) => encode(heartbeat(r.tenantId, r.service, r.instance, QUIET_INTERVAL_MS, 1)));
    const t0 = performance.now();
    const firstLast = await publishAll(js, firstRound);
    const firstDrained = await waitDrained(jsm, durable, firstLast);
    results.firstSight = { count: INSTANCES, ms: firstDrained - t0 };
    await sleep(SNAPSHOT_INTERVAL_MS * 2 + 1_000); // at least one snapshot of all of them, then settle
    results.rss = { before: rssBefore, after: vmRssBytes(detector.pid) };

    // 2. Steady-state throughput: a backlog of one heartbeat per tracked instance, drained by
    //    the detector, then by raw consumers; THROUGHPUT_ROUNDS times, each figure the median
    //    (on a shared 2-core machine one drain alone moved by ±40 %).
    results.rounds = [];
    for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
      process.stdout.write(`detector bench: throughput, round ${round + 1}/${THROUGHPUT_ROUNDS}…\n`);
      const backlog = refs.map((r) => encode(heartbeat(r.tenantId, r.service, r.instance, QUIET_INTERVAL_MS, 2 + round)));
      detector.pause();
      let firstSeq;
      let lastSeq;
      try {
        const first = backlog.shift();
        firstSeq = (await js.publish(first.subject, first.data, { msgID: first.id })).seq;
        lastSeq = await publishAll(js, backlog);
      } finally {
        detector.resume();
      }
      const d0 = performance.now();
      const d1 = await waitDrained(jsm, durable, lastSeq);
      results.rounds.push({
        detector: { count: lastSeq - firstSeq + 1, ms: d1 - d0 },
        raw: await rawDrain(nc, jsm, firstSeq, lastSeq, RAW_BATCH),
        rawLarge: await rawDrain(nc, jsm, firstSeq, lastSeq, RAW_LARGE_BATCH),
      });
    }

    // 3. Latency.
    process.stdout.write('detector bench: hang and crash latency…\n');
    const pool = new Pool({ connectionString: databaseUrl, max: 10 });
    try {
      await pool.query('CREATE TABLE bench_floor (id text PRIMARY KEY, at timestamptz NOT NULL)');
      results.hang = await measureHang(nc, js, jsm, pool);
      const crashFloorLatencies = await crashFloor(nc, js, jsm, pool);
      results.crash = { ...(await measureCrash(nc, js, jsm, durable)), floor: crashFloorLatencies };
    } finally {
      await pool.end();
    }
  } finally {
    await nc.drain().catch(() => undefined);
    if (detector) await detector.stop();
    await nats.stop();
    await database.drop();
  }
  const profileTop = PROFILE ? summarizeProfile(detector.profileDir) : [];
  // With a profile, keep it (and the detector's log) for a closer look in DevTools.
  if (!PROFILE) fs.rmSync(dir, { recursive: true, force: true });

  const rate = (r) => (r.count / r.ms) * 1000;
  const median = (values) => percentile(values, 50);
  const detectorRates = results.rounds.map((r) => rate(r.detector));
  const detectorRate = median(detectorRates);
  const rawRate = median(results.rounds.map((r) => rate(r.raw)));
  const ratioToRaw = median(results.rounds.map((r) => rate(r.detector) / rate(r.raw)));
  const ratioToRawLarge = median(results.rounds.map((r) => rate(r.detector) / rate(r.rawLarge)));
  const bytesPerInstance = (results.rss.after - results.rss.before) / INSTANCES;
  const num = (v, digits = 0) => (Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
  const row = (name, value, target) => console.log(`${name.padEnd(50)} ${value.padStart(22)}   ${target}`);

  console.log(`\nautoheal detector benchmark — one detector process, ${INSTANCES.toLocaleString('en-US')} tracked instances`);
  console.log(`node ${process.version}, ${os.cpus().length} cores, finished in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  console.log(`${'figure'.padEnd(50)} ${'measured'.padStart(22)}   target (detector issue)`);
  row('throughput: heartbeats evaluated /s', num(detectorRate), `>= ${num(TARGETS.eventsPerSecond)}`);
  const rawLargeRate = median(results.rounds.map((r) => rate(r.rawLarge)));
  row(`  floor: raw JetStream consume+ack /s, batch ${RAW_BATCH}`, num(rawRate), '(same messages, same pull size as the detector)');
  row(`  floor: raw JetStream consume+ack /s, batch ${RAW_LARGE_BATCH}`, num(rawLargeRate), '(same messages)');
  row(`  detector / raw (batch ${RAW_BATCH})`, num(ratioToRaw, 2), `>= ${TARGETS.ratio}`);
  row(`  detector / raw (batch ${RAW_LARGE_BATCH})`, num(ratioToRawLarge, 2), `>= ${TARGETS.ratio}`);
  row('  each round: detector /s (ratio to raw)', results.rounds.map((r) => `${num(rate(r.detector))} (${num(rate(r.detector) / rate(r.raw), 2)})`).join(', '), '');
  row('  first sight of every instance /s', num(rate(results.firstSight)), '(publish and consume overlapping)');
  const hang = results.hang;
  row(`hang: deadline -> incident received p50`, `${num(percentile(hang.pastDeadline, 50), 1)} ms`, '');
  row(`hang: deadline -> incident received p99`, `${num(percentile(hang.pastDeadline, 99), 1)} ms`, `<= ${TARGETS.hangP99Ms} ms`);
  row(`  deadline -> stored in JetStream p50/p99`, `${num(percentile(hang.storedPastDeadline, 50), 1)} / ${num(percentile(hang.storedPastDeadline, 99), 1)} ms`, '(server timestamp)');
  row(`  detectionLatencyMs the detector reports p50/p99`, `${num(percentile(hang.reported, 50), 1)} / ${num(percentile(hang.reported, 99), 1)} ms`, '');
  row(`  floor: commit + publish + receipt at a tick p50/p99`, `${num(percentile(hang.floor, 50), 1)} / ${num(percentile(hang.floor, 99), 1)} ms`, `(a bare writer, ${hang.floor.length} writes, same load)`);
  row(`  hang / floor p50, p99`, `${num(percentile(hang.pastDeadline, 50) / percentile(hang.floor, 50), 1)}, ${num(percentile(hang.pastDeadline, 99) / percentile(hang.floor, 99), 1)}`, '');
  row(`  instance incidents opened`, `${hang.count}/${HANG_INSTANCES}`, '');
  row(`  also: service-level / other kind / repeated / published twice`, `${hang.serviceLevel} / ${hang.otherKinds} / ${hang.duplicates} / ${hang.republished}`, '(not in the figures)');
  const crash = results.crash;
  if (crash.count === 0) {
    row('crash: health.exited -> incident p50/p99', 'n/a (crash detection not wired)', `p99 <= ${TARGETS.crashP99Ms} ms`);
  } else {
    row('crash: health.exited -> incident received p50', `${num(percentile(crash.latencies, 50), 1)} ms`, '');
    row('crash: health.exited -> incident received p99', `${num(percentile(crash.latencies, 99), 1)} ms`, `<= ${TARGETS.crashP99Ms} ms`);
    row(`  exited -> stored in JetStream p50/p99`, `${num(percentile(crash.storedLatencies, 50), 1)} / ${num(percentile(crash.storedLatencies, 99), 1)} ms`, '(server timestamp)');
    row(`  floor: consume + commit + publish + receipt p50/p99`, `${num(percentile(crash.floor, 50), 1)} / ${num(percentile(crash.floor, 99), 1)} ms`, `(a bare consumer, ${crash.floor.length}/${CRASH_INSTANCES} events, same pace)`);
    row(`  crash / floor p50, p99`, `${num(percentile(crash.latencies, 50) / percentile(crash.floor, 50), 1)}, ${num(percentile(crash.latencies, 99) / percentile(crash.floor, 99), 1)}`, '');
    row('  instance incidents opened', `${crash.count}/${CRASH_INSTANCES}`, '');
    row(`  also: service-level / other kind / repeated / published twice`, `${crash.serviceLevel} / ${crash.otherKinds} / ${crash.duplicates} / ${crash.republished}`, '(not in the figures)');
  }
  row('memory: RSS growth per tracked instance', `${num(bytesPerInstance)} B`, `<= ${num(TARGETS.bytesPerInstance)} B`);
  row('  detector RSS before / after', `${num(results.rss.before / 2 ** 20)} / ${num(results.rss.after / 2 ** 20)} MiB`, '');
  if (profileTop.length > 0) {
    console.log('\ndetector CPU profile, top self time:');
    for (const p of profileTop) console.log(`  ${(p.share * 100).toFixed(1).padStart(5)}%  ${p.ms.toFixed(0).padStart(7)} ms  ${p.name}`);
    console.log(`profile and detector log kept in ${dir}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
