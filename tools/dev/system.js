// Starts the four services and the host agents (apps/agent, configured from the demo fleet file:
// the demo fleet's own, and each host or standby agent the file names) as child processes, the
// services with the OpenTelemetry SDK preloaded. Used by `npm start` and by the end-to-end tests, so that
// the tests run the system exactly the way a developer does.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const { roleUrl, serviceDatabaseUrls } = require('../infra/postgres-roles.js');
const { natsEnvFor } = require('./nats-dev.js');
const { addSigningKeys } = require('./signing-keys.js');
const { DEMO_CAPACITY_RPS } = require('./demo-load.js');
const { ProcessRegistry } = require('./processes.js');

const ROOT = path.resolve(__dirname, '..', '..');
// The built preload, by path: under Jest, require.resolve would be mapped to the TypeScript source.
const OTEL_PRELOAD = path.join(ROOT, 'libs/telemetry/dist/register.js');

const DEFAULT_PORTS = { auditor: 3000, detector: 3001, decision: 3002, executor: 3003, console: 3004 };

const SERVICES = ['auditor', 'detector', 'decision', 'executor'];
const DEMO_AGENT_ID = 'demo-fleet';

/** The process name of an agent: `agent` for the demo fleet's own, `agent-<id>` for the others. */
function agentProcessName(agentId) {
  return agentId === DEMO_AGENT_ID ? 'agent' : `agent-${agentId}`;
}

function serviceTable(ports, agentIds) {
  const table = {
    auditor: { entry: 'apps/auditor/dist/main.js', env: { AUDITOR_PORT: String(ports.auditor) }, port: ports.auditor },
    detector: { entry: 'apps/detector/dist/main.js', env: { DETECTOR_PORT: String(ports.detector) }, port: ports.detector },
    decision: { entry: 'apps/decision/dist/main.js', env: { DECISION_PORT: String(ports.decision) }, port: ports.decision },
    executor: { entry: 'apps/executor/dist/main.js', env: { EXECUTOR_PORT: String(ports.executor) }, port: ports.executor },
  };
  for (const agentId of agentIds) {
    // An agent other than the demo fleet's stands for a host of its own: it runs in a process
    // group of its own with the processes it starts, so the demo can lose the whole host at once (loseHost).
    table[agentProcessName(agentId)] = { entry: 'apps/agent/dist/main.js', env: {}, port: undefined, agentId, ownProcessGroup: agentId !== DEMO_AGENT_ID };
  }
  return table;
}

/** The demo fleet file (apps/demo-fleet's loader, built) and the agents it runs. */
function readFleet(fleetFile) {
  const { loadFleetFile, fleetAgentIds } = require(path.join(ROOT, 'apps/demo-fleet/dist/fleet/fleet-file.js'));
  const fleet = loadFleetFile(fleetFile);
  return { fleet, agentIds: fleetAgentIds(fleet) };
}

/**
 * The ops console (apps/console), in front of the auditor and the decision service. It holds no
 * key of its own — only what a person logs in with — so it gets none of the services' secrets:
 * its own settings, the process basics and the telemetry settings.
 */
function consoleProcess(ports, env) {
  const passed = Object.fromEntries(Object.entries(env).filter(([k]) => /^(PATH|HOME|TMPDIR|NODE_ENV|NODE_OPTIONS|LOG_LEVEL|HTTP_HOST|CONSOLE_.+|OTEL_.+|AUTOHEAL_TRACE_FILE)$/.test(k)));
  const spec = {
    entry: 'apps/console/dist/main.js',
    env: { CONSOLE_PORT: String(ports.console), AUTOHEAL_AUDITOR_URL: `http://127.0.0.1:${ports.auditor}`, AUTOHEAL_DECISION_URL: `http://127.0.0.1:${ports.decision}` },
    port: ports.console,
  };
  return { spec, env: passed };
}

/**
 * One agent's part of the demo fleet as its config file (apps/demo-fleet's fleetAgentConfig),
 * written to `file`: NATS and keys from the variables the agent would otherwise get,
 * FLEET_BASE_PORT (4100; 0: free ports), HEARTBEAT_MS and AGENT_READY_TIMEOUT_MS from `env`; a
 * standby's traffic switch records its routes in `routesFile`.
 */
function writeAgentConfig(file, fleet, agentId, routesFile, env) {
  const { fleetAgentConfig } = require(path.join(ROOT, 'apps/demo-fleet/dist/fleet/agent-config.js'));
  const config = fleetAgentConfig(fleet, {
    agentId,
    routesFile,
    nats: { url: env.NATS_URL, ...(env.NATS_NKEY_SEED_FILE ? { nkeySeedFile: env.NATS_NKEY_SEED_FILE } : {}), ...(env.NATS_TLS_CA_FILE ? { tlsCaFile: env.NATS_TLS_CA_FILE } : {}) },
    signing: { keyFile: env.AUTOHEAL_SIGNING_KEY_FILE, trustFile: env.AUTOHEAL_TRUST_FILE },
    stateDir: env.AGENT_STATE_DIR,
    producerSeedDir: env.AGENT_PRODUCER_SEED_DIR,
    basePort: Number(env.FLEET_BASE_PORT ?? 4100),
    heartbeatMs: Number(env.HEARTBEAT_MS ?? 1000),
    ...(env.AGENT_READY_TIMEOUT_MS ? { readyTimeoutMs: Number(env.AGENT_READY_TIMEOUT_MS) } : {}),
  });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(config, null, 2) + '\n');
  return file;
}

/** Applies every service's migrations (each owns its schema) as the owner role, on `databaseUrl`'s database. */
function migrateAll(databaseUrl) {
  for (const svc of ['auditor', 'detector', 'decision', 'executor']) {
    execFileSync(process.execPath, [path.join(ROOT, `apps/${svc}/dist/migrate.js`)], {
      env: { ...process.env, DATABASE_MIGRATION_URL: roleUrl(databaseUrl, 'owner') },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  }
}

/** SIGKILLs a process group (led by `pid`); one already gone is no error. */
function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (error) {
    if (error.code !== 'ESRCH') throw error;
  }
}

/** A child process that can be killed and started again under the same name and settings. */
class ManagedProcess {
  constructor(name, spec, env, logDir, options) {
    this.name = name;
    this.spec = spec;
    this.env = env;
    this.logPath = path.join(logDir, `${name}.log`);
    this.options = options;
    // Everything started goes through one registry (processes.js): npm start stops it all.
    this.registry = options.registry;
    this.child = undefined;
    this.stopping = false;
    this.restarts = 0;
  }

  start() {
    this.stopping = false;
    const log = fs.openSync(this.logPath, 'a');
    const args = this.spec.agentId ? [] : ['--require', OTEL_PRELOAD];
    const child = this.registry.spawn(process.execPath, [...args, path.join(ROOT, this.spec.entry)], {
      cwd: ROOT,
      env: { ...this.env, ...this.spec.env, OTEL_SERVICE_NAME: this.spec.agentId ? 'autoheal-agent' : this.name },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: Boolean(this.spec.ownProcessGroup),
    });
    this.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk) => {
        fs.writeSync(log, chunk);
        if (this.options.onOutput) this.options.onOutput(this.name, chunk);
      });
    }
    // Closed once its pipes are (`close`), not at `exit`: output may still arrive after the exit,
    // and a write to a closed descriptor would crash the runner and orphan everything it started.
    child.once('close', () => fs.closeSync(log));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.options.onExit && !this.stopping) this.options.onExit(this.name, code, signal);
      // Supervisor behaviour: a service that dies on its own is started again.
      if (!this.stopping && this.options.restartOnExit) {
        this.restarts += 1;
        setTimeout(() => this.stopping || this.start(), Math.min(5000, 250 * 2 ** Math.min(this.restarts, 5))).unref();
      }
    });
    return child;
  }

  get pid() {
    return this.child ? this.child.pid : undefined;
  }

  /**
   * A lost host: SIGKILLs the process and every process it started (its process group) at once,
   * so none of them can say goodbye (no health.stopping, no health.exited). Not started again,
   * whatever restartOnExit says. Only for a process started in a group of its own (ownProcessGroup).
   */
  async loseHost() {
    if (!this.spec.ownProcessGroup) throw new Error(`${this.name} does not run in a process group of its own`);
    this.stopping = true;
    const child = this.child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    killGroup(child.pid);
    await exited;
  }

  /**
   * Stops it: SIGTERM (graceful) by default, SIGKILL to simulate a crash; SIGKILL after
   * `timeoutMs`, and (detached registry) for whatever of its process group is left.
   */
  async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
    this.stopping = true;
    const child = this.child;
    if (!child) return;
    await this.registry.stop(child, { signal, timeoutMs });
  }
}

function httpStatus(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
  });
}

async function waitForHealth(name, port, timeoutMs, logPath) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await httpStatus(`http://127.0.0.1:${port}/health/ready`)) === 200) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = logPath && fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n') : '';
  throw new Error(`${name} did not report ready on :${port}/health/ready within ${timeoutMs} ms; last lines of ${logPath}:\n${tail}`);
}

/**
 * Starts everything. Options: natsUrl, natsCredentials ({ caFile, seedDir }: see nats-dev.js),
 * databaseUrl, stateDir, ports, env (extra variables for every process), fleetFile,
 * restartOnExit, console (also start the ops console), onOutput(name, chunk), onExit(name, code, signal),
 * registry (processes.js; every process is started through it), stopTimeoutMs (SIGKILL after it on stop; default 10 s).
 */
async function startSystem(options) {
  const ports = { ...DEFAULT_PORTS, ...(options.ports || {}) };
  const stateDir = options.stateDir;
  const logDir = path.join(stateDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const fleetFile = options.fleetFile || path.join(ROOT, 'deploy/demo/fleet.json');
  const { fleet, agentIds } = readFleet(fleetFile);
  // Where the demo's traffic switch records the routes failovers set (apps/demo-fleet, traffic-switch.cli).
  const routesFile = path.join(stateDir, 'routes.jsonl');
  const env = {
    ...process.env,
    NATS_URL: options.natsUrl,
    DECISION_TENANTS_FILE: fleetFile,
    FLEET_FILE: fleetFile,
    AGENT_STATE_DIR: path.join(stateDir, 'agent'),
    // Rules tuned to the demo's one-second metric windows and synthetic traffic; a caller's own file wins.
    DETECTOR_RULES_FILE: process.env.DETECTOR_RULES_FILE || path.join(ROOT, 'deploy/demo/detector-rules.json'),
    // What each api-server route serves on time (apps/demo-fleet/src/api-server/overload.ts): the
    // demo's latency storm and saturation are load beyond it (tools/dev/demo-load.js).
    CAPACITY_RPS: process.env.CAPACITY_RPS || String(DEMO_CAPACITY_RPS),
    ...(options.env || {}),
  };
  const table = serviceTable(ports, agentIds);
  const databaseUrls = serviceDatabaseUrls(options.databaseUrl);
  // The auditor's REST reads and the decision admin API's reads log in as their own SELECT-only
  // roles (row-level security per tenant), on pools of their own.
  const readerUrls = {
    // The checkpoints' file sink: a directory of JSON lines beside the database (production: WORM storage, see the auditor README).
    auditor: { DATABASE_READER_URL: roleUrl(options.databaseUrl, 'auditorReader'), AUDITOR_CHECKPOINT_DIR: path.join(stateDir, 'checkpoints'), AUDITOR_ARCHIVE_DIR: path.join(stateDir, 'audit-archive') },
    decision: { DATABASE_READER_URL: roleUrl(options.databaseUrl, 'decisionReader') },
  };
  Object.assign(env, addSigningKeys(table, path.join(stateDir, 'keys'), fleet), options.env || {});
  const registry = options.registry || new ProcessRegistry();
  const services = new Map();
  const agentNames = agentIds.map(agentProcessName);
  for (const name of [...SERVICES, ...agentNames]) {
    // Each service logs in as its own Postgres role (the agents get no database at all) and
    // connects to NATS as its own identity (TLS CA and NKey seed), when given.
    const spec = { ...table[name], env: { ...table[name].env, DATABASE_URL: databaseUrls[name] || '', ...(readerUrls[name] || {}) } };
    const processEnv = { ...env, ...natsEnvFor(name, options.natsCredentials, spec.agentId) };
    if (spec.agentId) {
      // Each agent reads its own config file: its part of the demo fleet, with what this process
      // would have had. The demo fleet's agent keeps AGENT_STATE_DIR; another has a folder of its own.
      const agentDir = spec.agentId === DEMO_AGENT_ID ? env.AGENT_STATE_DIR : path.join(stateDir, name);
      spec.env.AUTOHEAL_AGENT_CONFIG = writeAgentConfig(path.join(agentDir, 'agent.config.json'), fleet, spec.agentId, routesFile, { ...processEnv, ...spec.env, AGENT_STATE_DIR: agentDir });
    }
    const proc = new ManagedProcess(name, spec, processEnv, logDir, { ...options, registry });
    services.set(name, proc);
    proc.start();
  }
  if (options.console) {
    const { spec, env: consoleEnv } = consoleProcess(ports, env);
    const proc = new ManagedProcess('console', spec, consoleEnv, logDir, { ...options, registry });
    services.set('console', proc);
    proc.start();
  }
  const system = {
    ports,
    services,
    logDir,
    routesFile,
    async waitHealthy(timeoutMs = 60_000) {
      await Promise.all(
        [...services.entries()].filter(([, p]) => p.spec.port).map(([name, p]) => waitForHealth(name, p.spec.port, timeoutMs, p.logPath)),
      );
    },
    async restart(name) {
      const proc = services.get(name);
      proc.start();
      if (proc.spec.port) await waitForHealth(name, proc.spec.port, 60_000, proc.logPath);
    },
    async stop() {
      // Every process is expected to end from here on, also those a Ctrl-C in the terminal
      // reached before we did: none of them is reported as an exit or restarted.
      for (const proc of services.values()) proc.stopping = true;
      // All at once, each within its own deadline: one by one, a slow one would hold the rest
      // past a supervisor's patience. The agent stops the demo processes it owns itself.
      await Promise.all([...services.values()].map((proc) => proc.stop('SIGTERM', options.stopTimeoutMs || 10_000)));
    },
  };
  return system;
}

module.exports = { startSystem, migrateAll, waitForHealth, agentProcessName, DEFAULT_PORTS, ROOT };
