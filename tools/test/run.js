#!/usr/bin/env node
// `npm test`: everything against a real nats-server and a real Postgres.
//   1. nats-server ≥ 2.12.3 (Debian sid's package fetched with apt into .autoheal/bin, or NATS_SERVER_BIN) and openssl;
//      promtool (Debian's prometheus package, fetched the same way, or PROMTOOL_BIN) for the alert rules' tests;
//      rsyslog with its OpenSSL driver (Debian's rsyslog and rsyslog-openssl, the same way) for the SIEM forwarding test
//   2. Postgres: DATABASE_URL / TEST_DATABASE_URL, the local server, or an embedded one
//   3. build (the integration tests migrate their template database from apps/*/dist; the
//      console's front-end with vite), and Chromium (Debian's package) for the browser tests
//   4. lint, 5. type-check the tests, 6. jest (unit, integration, e2e), 7. jest (browser: the ops
//   console in Chromium against the whole system, alone), 8. jest (image: builds the
//   container image with buildah, alone, since a build takes both cores for minutes)
// A failed build stops the run; lint and type errors are reported after the tests, and any
// failure makes the exit code non-zero. Extra arguments go to jest (`npm test -- --selectProjects unit`).
const { spawn } = require('node:child_process');
const { join } = require('node:path');
const { existsSync, readFileSync, rmSync, mkdirSync } = require('node:fs');
const { constants } = require('node:os');
const { ensureNatsServerBinary } = require('../infra/ensure-nats-server.js');
const { ensurePostgres, answers, redact } = require('../infra/ensure-postgres.js');
const { ensurePromtool } = require('../infra/ensure-promtool.js');
const { ensureChromium } = require('../infra/ensure-chromium.js');
const { ensureRsyslog } = require('../infra/ensure-rsyslog.js');

const ROOT = join(__dirname, '..', '..');
const jestArgs = process.argv.slice(2);
const results = [];
let current = null;
let postgres = null;
let countsLine = null;

function log(line) {
  process.stdout.write(`${line}\n`);
}

function banner(name) {
  log(`\n=== ${name} ===`);
}

function run(command, args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
    current = child;
    child.on('error', (error) => {
      process.stderr.write(`${command}: ${error.message}\n`);
      current = null;
      resolve(127);
    });
    child.on('exit', (code, signal) => {
      current = null;
      resolve(code ?? 128 + (constants.signals[signal] || 0));
    });
  });
}

async function step(name, fn) {
  banner(name);
  const started = Date.now();
  let code;
  try {
    code = await fn();
  } catch (error) {
    process.stderr.write(`${error.stack || error.message || error}\n`);
    code = 1;
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  results.push({ name, code, seconds });
  log(`--- ${name}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${seconds} s`);
  return code;
}

async function main() {
  const env = { NX_DAEMON: 'false' };

  if ((await step('nats-server', () => (log(ensureNatsServerBinary()), 0))) !== 0) return finish();
  // Not a reason to stop: without it only the alert rules' test fails, and says why.
  await step('promtool', () => (log(ensurePromtool()), 0));
  // Likewise: without it only the SIEM forwarding test fails (it fetches rsyslog itself too).
  await step('rsyslog', () => (log(ensureRsyslog().rsyslogd), 0));

  const pgCode = await step('postgres', async () => {
    const explicit = process.env.TEST_DATABASE_URL;
    if (explicit && (await answers(explicit))) {
      log(`using TEST_DATABASE_URL ${redact(explicit)}`);
      return 0;
    }
    postgres = await ensurePostgres();
    process.env.TEST_DATABASE_URL = postgres.url;
    log(`using ${redact(postgres.url)}${postgres.embedded ? ' (embedded, stopped at the end)' : ''}`);
    return 0;
  });
  if (pgCode !== 0) return finish();

  if ((await step('build', () => run('npx', ['tsc', '-b', 'tsconfig.build.json'], env))) !== 0) return finish();
  if ((await step('build console', () => run('npm', ['run', 'build', '--silent', '-w', '@autoheal/console'], env))) !== 0) return finish();
  // Not a reason to stop: without it only the browser tests fail, and say why.
  await step('chromium', () => (log(ensureChromium()), 0));
  await step('lint', () => run('npx', ['eslint', '.'], env));
  await step('typecheck tests', () => run('npx', ['tsc', '-p', 'tsconfig.spec.json'], env));
  mkdirSync(join(ROOT, '.autoheal'), { recursive: true });
  // Services under test log at warn unless asked otherwise; the e2e processes log to files.
  const jestEnv = { ...env, LOG_LEVEL: process.env.LOG_LEVEL || 'warn' };
  // Arguments of one's own (`npm test -- --selectProjects unit`) run as given, in one step.
  const runs = jestArgs.length > 0 ? [{ name: 'jest', args: jestArgs }] : [
    { name: 'jest', args: ['--selectProjects', 'unit', 'integration', 'e2e'] },
    { name: 'jest (browser)', args: ['--selectProjects', 'browser'] },
    { name: 'jest (image)', args: ['--selectProjects', 'image'] },
  ];
  const resultsFiles = [];
  for (const [i, { name, args }] of runs.entries()) {
    const resultsFile = join(ROOT, '.autoheal', `jest-results-${i}.json`);
    rmSync(resultsFile, { force: true });
    resultsFiles.push(resultsFile);
    await step(name, () => run('npx', ['jest', '--maxWorkers=2', '--json', `--outputFile=${resultsFile}`, ...args], jestEnv));
  }
  countsLine = testCounts(resultsFiles);
  return finish();
}

/** One plain closing line with the counts of every Jest run, whatever reporter Jest used. */
function testCounts(files) {
  const results = files.filter((file) => existsSync(file)).map((file) => JSON.parse(readFileSync(file, 'utf8')));
  if (results.length === 0) return null;
  const sum = (key) => results.reduce((total, r) => total + r[key], 0);
  return `tests: ${sum('numPassedTests')} passed, ${sum('numFailedTests')} failed, ${sum('numPendingTests') + sum('numTodoTests')} skipped`;
}

async function finish() {
  await stopPostgres();
  const failed = results.filter((r) => r.code !== 0);
  log('\n=== summary ===');
  for (const r of results) log(`${r.code === 0 ? 'ok    ' : 'FAILED'} ${r.name} (${r.seconds} s)`);
  if (failed.length > 0) {
    log(`\nnpm test failed: ${failed.map((r) => r.name).join(', ')}`);
    if (countsLine) log(countsLine);
    return failed[0].code || 1;
  }
  log('\nall steps passed');
  if (countsLine) log(countsLine);
  return 0;
}

async function stopPostgres() {
  const pg = postgres;
  postgres = null;
  if (pg && pg.embedded) {
    log('stopping embedded Postgres');
    await pg.stop().catch((error) => process.stderr.write(`stopping embedded Postgres failed: ${error.message}\n`));
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`\n${signal}: stopping`);
    if (current) current.kill(signal);
    stopPostgres().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

main().then(
  (code) => process.exit(code),
  async (error) => {
    process.stderr.write(`${error.stack || error}\n`);
    await stopPostgres();
    process.exit(1);
  },
);
