// `npm start`: the whole system plus a demo fleet it heals, on one machine.
// Uses Postgres where DATABASE_URL answers, otherwise starts a local one; starts its own
// nats-server with TLS and NKey users (tools/dev/nats-dev.js) unless NATS_URL is set.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Client } = require('pg');
const { startSystem, migrateAll, ROOT } = require('./system.js');
const { ensureDevNats } = require('./nats-dev.js');
const { ensurePostgres } = require('../infra/ensure-postgres.js');
const { preparePostgres } = require('../infra/postgres-roles.js');
const { startEventFeed } = require('./event-feed.js');

const STATE_DIR = path.join(ROOT, '.autoheal');
const DATABASE_NAME = 'autoheal';

async function ensureDatabase(adminUrl) {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE_NAME]);
  if (rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE_NAME}`);
  await client.end();
  const u = new URL(adminUrl);
  u.pathname = `/${DATABASE_NAME}`;
  return u.toString();
}

/** Local API keys, kept across runs so bookmarks and scripts keep working. */
function localApiKeys(fleet) {
  const file = path.join(STATE_DIR, 'api-keys.json');
  const keys = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : { ops: undefined, tenants: {} };
  keys.ops = keys.ops || `ops_${crypto.randomBytes(18).toString('base64url')}`;
  keys.admin = keys.admin || `adm_${crypto.randomBytes(18).toString('base64url')}`;
  for (const t of fleet.tenants) keys.tenants[t.tenantId] = keys.tenants[t.tenantId] || `tnt_${crypto.randomBytes(18).toString('base64url')}`;
  fs.writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys;
}

async function main() {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const fleetFile = process.env.FLEET_FILE || path.join(ROOT, 'deploy/demo/fleet.json');
  const fleet = JSON.parse(fs.readFileSync(fleetFile, 'utf8'));
  // The demo tenants as code (frameworks, placement, playbooks, escalation targets); another
  // fleet file without documents of its own falls back to the profiles in that file.
  const tenantsDir = process.env.DECISION_TENANTS_DIR || (process.env.FLEET_FILE ? undefined : path.join(ROOT, 'deploy/tenants'));
  const nats = await ensureDevNats({ stateDir: STATE_DIR, fleet });
  const pg = await ensurePostgres({ stateDir: STATE_DIR });
  const databaseUrl = process.env.DATABASE_URL && pg.url === process.env.DATABASE_URL ? pg.url : await ensureDatabase(pg.url);
  await preparePostgres(databaseUrl);
  console.log('applying migrations');
  migrateAll(databaseUrl);
  const keys = localApiKeys(fleet);

  const system = await startSystem({
    natsUrl: nats.url,
    natsCredentials: nats.credentials,
    databaseUrl,
    stateDir: STATE_DIR,
    fleetFile,
    restartOnExit: true,
    env: {
      AUDITOR_OPS_API_KEY: keys.ops,
      DECISION_ADMIN_API_KEY: keys.admin,
      ...(tenantsDir ? { DECISION_TENANTS_DIR: tenantsDir } : {}),
      AUDITOR_TENANT_API_KEYS: Object.entries(keys.tenants).map(([t, k]) => `${t}=${k}`).join(','),
      LOG_LEVEL: process.env.LOG_LEVEL || 'info',
    },
    onExit: (name, code, signal) => console.log(`! ${name} exited (${signal || code}); restarting`),
  });
  let feed;
  let shuttingDown = false;
  const shutdown = async () => {
    if (shuttingDown) return;
    shuttingDown = true;
    console.log('\nstopping…');
    // Started first: it marks every process as expected to end before the feed is closed.
    const stopped = system.stop();
    if (feed) await feed.stop().catch(() => undefined);
    await stopped;
    await nats.stop();
    await pg.stop();
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  await system.waitHealthy();
  feed = await startEventFeed(nats.toolEnv('event-feed'));
  const firstTenant = fleet.tenants[0];
  const api = `http://127.0.0.1:${system.ports.auditor}`;
  console.log(`
autoheal is running — services: auditor :${system.ports.auditor}, detector :${system.ports.detector}, decision :${system.ports.decision}, executor :${system.ports.executor}
  audit trail   curl -H 'Authorization: Bearer ${keys.ops}' ${api}/v1/tenants/${firstTenant.tenantId}/audit
  verify chain  curl -H 'Authorization: Bearer ${keys.ops}' ${api}/v1/tenants/${firstTenant.tenantId}/audit/verify
  API docs      ${api}/docs
  ops API key   ${keys.ops}   (bootstrap admin of the auditor; tenant keys: ${path.relative(ROOT, path.join(STATE_DIR, 'api-keys.json'))})
  tenants       AUTOHEAL_ADMIN_KEY=${keys.admin} npm run autoheal -- tenants list    (bootstrap admin; admin API docs: http://127.0.0.1:${system.ports.decision}/docs)
  your own key  AUTOHEAL_ADMIN_KEY=${keys.ops} npm run autoheal -- api-keys create --subject you@example.com --roles approver --tenants '*'
  metrics       http://127.0.0.1:${system.ports.detector}/metrics (each service has /metrics and /health)
  logs          ${path.relative(ROOT, system.logDir)}/<service>.log
  nats          ${nats.url}${nats.credentials ? `  (TLS CA ${path.relative(ROOT, nats.credentials.caFile || '(NATS_TLS_CA_FILE unset)')}, NKey seeds ${path.relative(ROOT, nats.credentials.seedDir)}/; a tenant producer: npm run autoheal -- producers create <tenant>)` : ''}
  break things  npm run chaos -- kill ${firstTenant.tenantId} ${firstTenant.services[0].service} ${firstTenant.services[0].instances[0]}
                npm run chaos -- hang <tenant> <service> <instance>    |    npm run chaos -- status
`);
  if (process.env.AUTOHEAL_DEMO_CHAOS !== '0') scheduleDemoChaos(fleet, nats.toolEnv('chaos'));
}

/**
 * Walks through the five faults autoheal tells apart, one instance each, so that a first run
 * shows every kind of incident healed without any typing: a crash (crashed; Acme's patient-api
 * keeps a warm spare, so the restart switches its traffic to the spare), a hang
 * (heartbeat_missed), a bad release (error_rate, which a restart does not fix: it fails
 * verification and the rollback heals it), slow answers (a latency anomaly) and a memory leak
 * (predicted before it saturates). Spaced so that each is healed before the next starts:
 * several instances failing at once would look like a detector or network fault and trip the
 * circuit breaker, and the tenants' concurrency limits allow one remediation per service at a time.
 */
function scheduleDemoChaos(fleet, natsEnv) {
  const chaos = path.join(ROOT, 'apps/demo-fleet/dist/chaos.cli.js');
  // Tenant by tenant, last instance first: five different instances across the tenants (the demo
  // fleet has six), so no target waits out a cooldown from the step before.
  const perTenant = fleet.tenants.map((t) => t.services.flatMap((s) => s.instances.map((i) => [t.tenantId, s.service, i])).reverse());
  const order = [];
  for (let round = 0; order.length < perTenant.flat().length; round++) {
    for (const instances of perTenant) if (instances[round]) order.push(instances[round]);
  }
  const run = (action, target) => {
    const args = [...target];
    // The bad release: the service's staged release that carries a fault (deploy/demo/fleet.json).
    if (action === 'release') args.push(badReleaseOf(fleet, target) || 'none');
    console.log(`\n>>> demo: ${action} ${args.join(' ')} (AUTOHEAL_DEMO_CHAOS=0 turns this off)`);
    spawn(process.execPath, [chaos, action, ...args], { stdio: 'ignore', env: { ...process.env, ...natsEnv } });
  };
  const steps = [
    { at: 5_000, action: 'kill' },
    { at: 30_000, action: 'hang' },
    // A bad release: restart (keeps it), verification fails after 15 s, rollback once the
    // target's cooldown ends (about a minute after the restart), verified.
    { at: 55_000, action: 'release' },
    // By now every instance has the anomaly baseline it needs (deploy/demo/detector-rules.json).
    { at: 80_000, action: 'slow' },
    { at: 105_000, action: 'leak' },
  ];
  steps.forEach(({ at, action }, i) => setTimeout(() => run(action, order[i % order.length]), at).unref());
}

/** The first staged release of the target's service that carries a fault (DEMO_FAULT), if any. */
function badReleaseOf(fleet, [tenantId, service]) {
  const tenant = fleet.tenants.find((t) => t.tenantId === tenantId);
  const releases = (tenant && tenant.services.find((s) => s.service === service)?.releases) || [];
  const bad = releases.find((r) => r.staged && r.env && r.env.DEMO_FAULT);
  return bad && bad.version;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
