// What every benchmark needs: a free port, percentiles, a private nats-server, and the floor —
// raw JetStream hops plus one Postgres commit, measured on the same machine in the same run.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const net = require('node:net');
const { spawn } = require('node:child_process');
const { connect } = require('@nats-io/transport-node');
const { jetstream, jetstreamManager, AckPolicy } = require('@nats-io/jetstream');
const { Client } = require('pg');
const { ensureNatsServerBinary } = require('../infra/ensure-nats-server.js');
const { ensurePostgres } = require('../infra/ensure-postgres.js');
const { preparePostgres } = require('../infra/postgres-roles.js');
const { ROOT } = require('../dev/system.js');

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

/** Nearest-rank percentile; NaN for no values. */
function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmt = (ms) => (Number.isFinite(ms) ? `${ms.toFixed(1).padStart(8)} ms` : '       n/a');

/**
 * A nats-server with JetStream on a free port, storing under `dir`, from a config file with
 * `sync_interval: always` as in production (every acknowledged write is on disk); `syncAlways:
 * false` leaves the server's default sync interval, for comparison.
 */
async function startNats(dir, { syncAlways = true } = {}) {
  const bin = ensureNatsServerBinary();
  const port = await freePort();
  const configFile = path.join(dir, 'nats-server.conf');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(configFile, `listen: "127.0.0.1:${port}"\njetstream {\n  store_dir: ${JSON.stringify(path.join(dir, 'nats'))}\n${syncAlways ? '  sync_interval: always\n' : ''}}\n`);
  const child = spawn(bin, ['-c', configFile], { stdio: 'ignore' });
  const url = `nats://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const nc = await connect({ servers: url, reconnect: false });
      await nc.close();
      return { url, stop: () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', resolve), child.kill('SIGTERM')))) };
    } catch {
      await sleep(50);
    }
  }
  child.kill('SIGKILL');
  throw new Error('nats-server did not start');
}

/**
 * A nats-server as `npm start` runs it (tools/dev/nats-dev.js): TLS with a locally made CA, one
 * NKey user per identity of `fleet` with the permission table's rights, `sync_interval: always`;
 * on a free port, storing under `dir`. `credentials` is what startSystem takes; `connectAs(name)`
 * connects as one identity (`ops`, `producer:<tenant>`…).
 */
async function startSecureNats(dir, fleet) {
  const { generateNatsDevMaterial, systemIdentities, connectNats } = require(path.join(ROOT, 'libs/messaging/dist/index.js'));
  const bin = ensureNatsServerBinary();
  const port = await freePort();
  const natsDir = path.join(dir, 'nats');
  const material = generateNatsDevMaterial({ dir: natsDir, identities: systemIdentities(fleet), port, storeDir: path.join(natsDir, 'store') });
  const log = fs.openSync(path.join(natsDir, 'nats-server.log'), 'a');
  const child = spawn(bin, ['-c', material.configFile], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const answers = () =>
    new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
  for (let i = 0; i < 100 && !(await answers()); i++) {
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  if (!(await answers())) throw new Error(`nats-server did not start; see ${path.join(natsDir, 'nats-server.log')}`);
  const url = `tls://127.0.0.1:${port}`;
  return {
    url,
    pid: child.pid,
    credentials: { caFile: material.caFile, seedDir: path.join(natsDir, 'seeds') },
    connectAs(name) {
      const entry = material.identities.get(name);
      if (!entry) throw new Error(`no NATS identity ${name}`);
      return connectNats({ servers: url, seedFile: entry.seedFile, caFile: material.caFile, name: `bench-${name}`, onClosedForGood: () => undefined });
    },
    stop: () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', resolve), child.kill('SIGTERM')))),
  };
}

/**
 * A database of its own for one benchmark run, on the Postgres `npm test` would use (the local
 * server or an embedded one). `drop()` removes it and stops an embedded server.
 */
async function benchDatabase(prefix) {
  const pgInfo = await ensurePostgres({ stateDir: path.join(ROOT, '.autoheal') });
  const name = `${prefix}_${process.pid}`;
  const admin = new Client({ connectionString: pgInfo.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(pgInfo.url);
  url.pathname = `/${name}`;
  await preparePostgres(url.toString());
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
      await pgInfo.stop();
    },
  };
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

module.exports = { freePort, percentile, sleep, fmt, startNats, startSecureNats, benchDatabase, measureFloor };
