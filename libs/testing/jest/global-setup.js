// Jest global setup for the integration and e2e projects: builds one migrated template database
// per Jest run; createTestDatabase() clones it for each test file.
//
// The template is migrated by each service's own entry point (apps/<svc>/dist/migrate.js), as the
// owner role, so the tests see exactly the schema and the grants production gets; the roles
// (tools/infra/postgres-roles.js) are created first, and their logins handed to the workers.
// That needs a build first; `npm test` does it.
// Each run has its own template, so two runs against one server do not drop each other's.
const { spawn } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join, relative } = require('node:path');
const db = require('./test-databases.js');
const roles = require('../../../tools/infra/postgres-roles.js');

const ROOT = join(__dirname, '..', '..', '..');
const MIGRATE_TIMEOUT_MS = 120_000;

module.exports = async function globalSetup() {
  // Both projects name this file; within one run the template is built once.
  if (globalThis.__AUTOHEAL_TEST_TEMPLATE__) return;
  const started = Date.now();
  const adminUrl = db.adminUrlFromEnv();
  const runId = db.newRunId();
  const template = db.assertTestDatabaseName(`autoheal_test_template_${runId}`);
  const templateUrl = db.databaseUrl(adminUrl, template);

  const passwords = await roles.ensurePostgresRoles(adminUrl);
  const stale = await db.withAdmin(adminUrl, async (admin) => {
    const dropped = await db.dropStaleDatabases(admin);
    await admin.query(`CREATE DATABASE "${template}"`);
    return dropped;
  });

  await roles.preparePostgresDatabase(templateUrl);

  const entries = migrateEntries();
  warnAboutMissingBuilds();
  const migrationUrl = roles.roleUrl(templateUrl, 'owner', passwords);
  await Promise.all(entries.map((entry) => runMigrate(entry, migrationUrl)));

  await db.withAdmin(adminUrl, async (admin) => {
    // Cloning fails while anyone is connected to the template; make sure nobody can be.
    await admin.query(`ALTER DATABASE "${template}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [template]);
  });

  process.env.TEST_DATABASE_ADMIN_URL = adminUrl;
  process.env.TEST_DATABASE_TEMPLATE = template;
  process.env.AUTOHEAL_TEST_RUN = runId;
  // createTestDatabase().roleUrl(name) logs in as these.
  process.env.TEST_DATABASE_ROLES = JSON.stringify(
    Object.fromEntries(Object.entries(roles.ROLES).map(([name, user]) => [name, { user, password: passwords[name] }])),
  );
  globalThis.__AUTOHEAL_TEST_TEMPLATE__ = { adminUrl, template, runId };

  const services = entries.map((e) => e.service).join(', ') || 'none (no apps/*/dist/migrate.js yet)';
  const cleaned = stale.length ? `; dropped ${stale.length} stale test database(s)` : '';
  process.stdout.write(
    `\n[test-db] template ${template} on ${db.redact(adminUrl)}, migrated: ${services} (${Date.now() - started} ms)${cleaned}\n`,
  );
};

function appDirs() {
  const appsDir = join(ROOT, 'apps');
  if (!existsSync(appsDir)) return [];
  return readdirSync(appsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => ({ service: d.name, dir: join(appsDir, d.name) }));
}

function migrateEntries() {
  return appDirs()
    .map((app) => ({ ...app, file: join(app.dir, 'dist', 'migrate.js') }))
    .filter((app) => existsSync(app.file));
}

/** Migrations run from dist: say so loudly when dist is missing or older than the sources. */
function warnAboutMissingBuilds() {
  for (const app of appDirs()) {
    const src = join(app.dir, 'src');
    if (!existsSync(join(src, 'migrate.ts'))) continue;
    const buildInfo = join(app.dir, 'dist', 'tsconfig.tsbuildinfo');
    if (!existsSync(join(app.dir, 'dist', 'migrate.js')) || !existsSync(buildInfo)) {
      process.stderr.write(`[test-db] WARNING ${relative(ROOT, app.dir)} is not built; its schema is missing. Run: npx tsc -b tsconfig.build.json\n`);
    } else if (newestMtime(src) > statSync(buildInfo).mtimeMs) {
      process.stderr.write(`[test-db] WARNING ${relative(ROOT, app.dir)}/dist is older than its sources; migrations may be stale. Run: npx tsc -b tsconfig.build.json\n`);
    }
  }
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    // Tests live in src too but are not part of the build.
    else if (!/\.(int-)?spec\.ts$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function runMigrate(entry, databaseUrl) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry.file], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_MIGRATION_URL: databaseUrl, OTEL_SDK_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk) => (output = (output + chunk.toString('utf8')).slice(-20_000));
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), MIGRATE_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else {
        reject(
          new Error(
            `migrating the test template failed: node ${relative(ROOT, entry.file)} exited with ${code ?? signal}\n${output}`,
          ),
        );
      }
    });
  });
}
