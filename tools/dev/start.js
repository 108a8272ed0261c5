// `npm start`: the whole system plus a demo fleet it heals, on one machine.
// Uses Postgres where DATABASE_URL answers, otherwise starts a local one; starts its own
// nats-server with TLS and NKey users (tools/dev/nats-dev.js) unless NATS_URL is set.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Client } = require('pg');
const { startSystem, migrateAll, agentProcessName, ROOT } = require('./system.js');
const { ensureDevNats } = require('./nats-dev.js');
const { ensurePostgres } = require('../infra/ensure-postgres.js');
const { preparePostgres } = require('../infra/postgres-roles.js');
const { startEventFeed } = require('./event-feed.js');
const { startLoad, DEMO_LOADS } = require('./demo-load.js');
const { connect } = require('@nats-io/transport-node');
// The SDK's credential helper (built by npm start before this runs).
const { natsCredentialOptions } = require(path.join(__dirname, '..', '..', 'libs/sdk/dist/credentials.js'));

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
    console: true,
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

  try {
    // Generous: on a loaded machine four NestJS services may take over a minute to listen.
    await system.waitHealthy(180_000);
  } catch (error) {
    // Not left running behind a failed start: the services, the agent and its instances would
    // keep the demo's ports for the next try.
    await system.stop();
    await nats.stop();
    await pg.stop();
    throw error;
  }
  feed = await startEventFeed(nats.toolEnv('event-feed'));
  const firstTenant = fleet.tenants[0];
  const api = `http://127.0.0.1:${system.ports.auditor}`;
  const consoleKey = await consoleDemoKey(api, keys, firstTenant.tenantId).catch((error) => {
    console.log(`! no console key: ${error.message}`);
    return undefined;
  });
  console.log(`
autoheal is running — services: auditor :${system.ports.auditor}, detector :${system.ports.detector}, decision :${system.ports.decision}, executor :${system.ports.executor}
  console       http://127.0.0.1:${system.ports.console}/   log in with ${consoleKey ? `${consoleKey}   (a personal key of demo-approver@localhost: approver over every tenant)` : 'a personal API key (see `your own key` below)'}
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
  if (process.env.AUTOHEAL_DEMO_CHAOS !== '0') scheduleDemoScenario(fleet, nats.toolEnv('chaos'), system);
}

/**
 * A personal key for logging in to the console, made at the auditor with the bootstrap ops key
 * (bootstrap keys are each known to one service only; the console needs a key both APIs accept)
 * and kept in api-keys.json; made again when the database no longer knows it.
 */
async function consoleDemoKey(api, keys, tenantId) {
  const works = async (key) => (await fetch(`${api}/v1/tenants/${tenantId}/approvals/pending?limit=1`, { headers: { authorization: `Bearer ${key}` } })).status === 200;
  if (keys.console && (await works(keys.console))) return keys.console;
  const answer = await fetch(`${api}/v1/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys.ops}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subject: 'demo-approver@localhost', roles: ['approver'], tenantScope: '*', label: 'npm start: console login' }),
  });
  if (answer.status !== 201) throw new Error(`POST /v1/api-keys answered ${answer.status}: ${await answer.text()}`);
  keys.console = (await answer.json()).key;
  fs.writeFileSync(path.join(STATE_DIR, 'api-keys.json'), JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys.console;
}

/**
 * The demo's scenario: one named step after another, each on an instance of its own, so that a
 * first run shows every kind of incident healed, each by its own remediation, without any typing.
 * Spaced so that each is healed before the next starts: several instances failing at once would
 * look like a detector or network fault and trip the circuit breaker, and the tenants' concurrency
 * limits allow one remediation per service at a time. A step reuses an instance only after the
 * target's cooldown (2 minutes under HIPAA) from the step before on it has passed.
 * `chaos` steps break an instance through the agent (npm run chaos); `load` steps send demand
 * from outside (tools/dev/demo-load.js) that the instance cannot serve on time.
 */
const DEMO_STEPS = [
  // Acme's patient-api keeps a warm spare (deploy/demo/fleet.json): the restart switches the
  // instance's traffic to it (`routed` in the feed) and a new spare starts behind it.
  { at: 5_000, name: 'crash with a warm spare → switchover', chaos: 'kill', target: ['acme-health', 'patient-api', 'patient-api-2'] },
  { at: 30_000, name: 'hang → restart', chaos: 'hang', target: ['globex-pay', 'payments-api', 'payments-api-2'] },
  // Restart (keeps the release), verification fails after 15 s, rollback once the target's
  // cooldown ends (about a minute after the restart), verified.
  { at: 55_000, name: 'bad release → restart, not verified → rollback → verified', chaos: 'release', target: ['initech-eu', 'reports-api', 'reports-api-1'] },
  // By now every instance has the anomaly baseline it needs (deploy/demo/detector-rules.json).
  { at: 80_000, name: 'slow answers (anomaly) → restart', chaos: 'slow', target: ['acme-health', 'patient-api', 'patient-api-1'] },
  { at: 105_000, name: 'memory leak (predicted) → restart', chaos: 'leak', target: ['globex-pay', 'payments-api', 'payments-api-1'] },
  // More orders than the instance serves on time: latency → throttle (Acme's playbook puts it
  // first) → the instance sheds what is beyond the limit, its answers are on time again while the
  // storm goes on → verified. The storm ends before the throttle's minute does.
  { at: 135_000, name: 'latency storm → throttle', load: 'storm', durationMs: 45_000, target: ['acme-health', 'patient-api', 'patient-api-2'] },
  // More reports than one instance renders, spread over the service's running instances:
  // saturation (event-loop lag) → scale_out adds ledger-api-2 → half the load each → verified;
  // once the service has stayed quiet for scaleInAfterMs (2 minutes for ledger-api) the decision
  // service plans a scale_in and the agent stops ledger-api-2 (seen in the feed).
  { at: 160_000, name: 'saturation → scale_out', load: 'saturation', durationMs: 60_000, target: ['initech-eu', 'ledger-api'] },
  // Hooli EU's status-api-1 runs on a host of its own (agent demo-host-eu-west): the whole host is
  // lost at once (agent and instance SIGKILLed together, nothing reports the exit). Silence →
  // heartbeat_missed → the tenant's playbook plans a failover to eu-central-1, its standby region
  // inside its EU residency → the standby's agent (demo-standby-eu-central) starts status-api-1
  // there, moves the traffic (.autoheal/routes.jsonl), promotes it → its heartbeats resolve the
  // incident → verified. The lost host stays down until the next npm start.
  { at: 235_000, name: 'lost host → failover to the standby region', loseHost: 'demo-host-eu-west', target: ['hooli-eu', 'status-api', 'status-api-1'] },
];

function scheduleDemoScenario(fleet, natsEnv, system) {
  const chaos = path.join(ROOT, 'apps/demo-fleet/dist/chaos.cli.js');
  const statusClient = agentStatusClient(natsEnv);
  const runChaos = (step, label) => {
    const args = [...step.target];
    // The bad release: the service's staged release that carries a fault (deploy/demo/fleet.json).
    if (step.chaos === 'release') args.push(badReleaseOf(fleet, step.target) || 'none');
    console.log(`\n>>> demo ${label}: npm run chaos -- ${step.chaos} ${args.join(' ')}`);
    spawn(process.execPath, [chaos, step.chaos, ...args], { stdio: 'ignore', env: { ...process.env, ...natsEnv } });
  };
  const runLoad = (step, label) => {
    const [tenantId, service, instance] = step.target;
    const { path: urlPath, ratePerSecond } = DEMO_LOADS[step.load];
    const where = instance ? `${tenantId}/${service}/${instance}` : `every running instance of ${tenantId}/${service}`;
    console.log(`\n>>> demo ${label}: ${ratePerSecond} GET ${urlPath} a second at ${where} for ${step.durationMs / 1000} s`);
    const load = startLoad({ listInstances: statusClient.status, tenantId, service, instance, path: urlPath, ratePerSecond, durationMs: step.durationMs });
    void load.done.then((s) => {
      if (s.sent === 0) {
        console.log(`\n>>> demo ${step.name}: load over: nothing sent, no instance of ${tenantId}/${service}${instance ? `/${instance}` : ''} was running (an earlier step's fault not healed?)`);
        return;
      }
      const spread = Object.entries(s.byInstance).map(([i, n]) => `${i} ${n}`).join(', ');
      console.log(`\n>>> demo ${step.name}: load over: ${s.sent} sent, ${s.ok} answered (${spread || 'none'}), ${s.shed} shed by a throttle (503), ${s.failed} without answer`);
    });
  };
  const loseHost = (step, label) => {
    const host = system.services.get(agentProcessName(step.loseHost));
    console.log(`\n>>> demo ${label}: SIGKILL to agent ${step.loseHost} and every instance it runs (${step.target.join('/')}), at once`);
    host.loseHost().catch((error) => console.log(`\n>>> demo ${step.name}: could not lose the host: ${error.message}`));
  };
  const steps = DEMO_STEPS.filter((step) => targetExists(fleet, step.target) && (!step.loseHost || system.services.has(agentProcessName(step.loseHost))));
  steps.forEach((step, i) => {
    const label = `${i + 1}/${steps.length} ${step.name}`;
    const run = step.loseHost ? loseHost : step.load ? runLoad : runChaos;
    setTimeout(() => run(step, label), step.at).unref();
  });
  console.log(`demo scenario (AUTOHEAL_DEMO_CHAOS=0 turns it off): ${steps.map((s, i) => `${i + 1}. ${s.name}`).join('; ')}`);
}

/** A demo step names instances of deploy/demo/fleet.json; another FLEET_FILE may not have them. */
function targetExists(fleet, [tenantId, service, instance]) {
  const s = fleet.tenants.find((t) => t.tenantId === tenantId)?.services.find((x) => x.service === service);
  return Boolean(s && (!instance || s.instances.includes(instance)));
}

/**
 * agent.status over NATS as the chaos identity, for the load steps (which instance listens where):
 * every agent answers with its own instances, so the replies are gathered (until none has come for
 * half a second) and joined.
 */
function agentStatusClient(natsEnv) {
  let connecting;
  const connection = () =>
    (connecting ??= connect({
      ...natsCredentialOptions({ nkeySeedFile: natsEnv.NATS_NKEY_SEED_FILE, tlsCaFile: natsEnv.NATS_TLS_CA_FILE }),
      servers: natsEnv.NATS_URL,
      name: 'autoheal-demo-load',
      maxReconnectAttempts: -1,
    }));
  return {
    status: async () => {
      const replies = await (await connection()).requestMany('agent.status', '', { strategy: 'stall', stall: 500, maxWait: 5_000 });
      const all = [];
      for await (const reply of replies) all.push(...reply.json());
      return all;
    },
  };
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
