// Naming and housekeeping of test databases, shared by the Jest global setup and teardown.
// Plain CommonJS: Jest loads these before anything is compiled.
const { createHash } = require('node:crypto');
const { hostname } = require('node:os');
const { Client } = require('pg');

const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const HOST = createHash('sha1').update(hostname()).digest('hex').slice(0, 6);
// autoheal_test_[template_]<host>_<pid36>_<start36>[_<random>]
const TEST_DB_PATTERN = /^autoheal_test_(?:template_)?([0-9a-f]{6})_([0-9a-z]+)_([0-9a-z]+)(?:_[0-9a-z]+)?$/;
const FOREIGN_RUN_MAX_AGE_MS = 24 * 60 * 60 * 1000;

function adminUrlFromEnv() {
  return process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || DEFAULT_ADMIN_URL;
}

function newRunId() {
  return `${HOST}_${process.pid.toString(36)}_${Date.now().toString(36)}`;
}

function assertTestDatabaseName(name) {
  if (!String(name).toLowerCase().includes('test')) {
    throw new Error(`refusing to touch database ${JSON.stringify(name)}: its name does not contain "test"`);
  }
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid database name ${JSON.stringify(name)}`);
  return name;
}

function databaseUrl(adminUrl, name) {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}

async function withAdmin(adminUrl, fn) {
  const client = new Client({ connectionString: adminUrl, application_name: 'autoheal-tests', connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `Postgres does not answer at ${redact(adminUrl)} (${error.message}). ` +
        'Run `npm test` (it starts an embedded Postgres when none answers) or set TEST_DATABASE_URL.',
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function dropDatabase(admin, name) {
  assertTestDatabaseName(name);
  // A template database cannot be dropped until it stops being one.
  await admin.query(`ALTER DATABASE "${name}" WITH IS_TEMPLATE false`).catch(() => undefined);
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * Test databases left by runs that died before their teardown: on this host, those whose run
 * process is gone; from other hosts sharing the server, only once they are a day old.
 */
function isStale(name, now = Date.now()) {
  const match = TEST_DB_PATTERN.exec(name);
  if (!match) return false;
  const [, host, pid36, start36] = match;
  if (host === HOST) return !isAlive(parseInt(pid36, 36));
  return now - parseInt(start36, 36) > FOREIGN_RUN_MAX_AGE_MS;
}

async function dropStaleDatabases(admin) {
  const { rows } = await admin.query(`SELECT datname FROM pg_database WHERE datname LIKE 'autoheal\\_test\\_%'`);
  const stale = rows.map((r) => r.datname).filter((name) => isStale(name));
  for (const name of stale) await dropDatabase(admin, name);
  return stale;
}

async function dropRunDatabases(admin, runId) {
  const { rows } = await admin.query(`SELECT datname FROM pg_database WHERE datname LIKE 'autoheal\\_test\\_%'`);
  const mine = rows.map((r) => r.datname).filter((name) => name.includes(`_${runId}`));
  for (const name of mine) await dropDatabase(admin, name);
  return mine;
}

module.exports = {
  adminUrlFromEnv,
  newRunId,
  assertTestDatabaseName,
  databaseUrl,
  redact,
  withAdmin,
  dropDatabase,
  dropStaleDatabases,
  dropRunDatabases,
  isStale,
};
