// Starts the four services and the host agent (apps/agent, configured with the demo fleet) as
// child processes, the services with the OpenTelemetry SDK preloaded. Used by `npm start` and by the end-to-end tests, so that
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

const DEFAULT_PORTS = { auditor: 3000, detector: 3001, decision: 3002, executor: 3003 };

function serviceTable(ports) {
  return {
    auditor: { entry: 'apps/auditor/dist/main.js', env: { AUDITOR_PORT: String(ports.auditor) }, port: ports.auditor },
    detector: { entry: 'apps/detector/dist/main.js', env: { DETECTOR_PORT: String(ports.detector) }, port: ports.detector },
    decision: { entry: 'apps/decision/dist/main.js', env: { DECISION_PORT: String(ports.decision) }, port: ports.decision },
    executor: { entry: 'apps/executor/dist/main.js', env: { EXECUTOR_PORT: String(ports.executor) }, port: ports.executor },
    agent: { entry: 'apps/agent/dist/main.js', env: {}, port: undefined },
  };
}

/**
 * The demo fleet as the host agent's config file (apps/demo-fleet's fleetAgentConfig), written to
 * `file`: the agent's identity, NATS and keys from the variables the agent would otherwise get,
 * FLEET_BASE_PORT (4100; 0: free ports), HEARTBEAT_MS and AGENT_READY_TIMEOUT_MS from `env`.
 */
function writeAgentConfig(file, fleetFile, env) {
  const { loadFleetFile } = require(path.join(ROOT, 'apps/demo-fleet/dist/fleet/fleet-file.js'));
  const { fleetAgentConfig } = require(path.join(ROOT, 'apps/demo-fleet/dist/fleet/agent-config.js'));
  const config = fleetAgentConfig(loadFleetFile(fleetFile), {
    agentId: env.AGENT_ID,
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
    const args = this.name === 'agent' ? [] : ['--require', OTEL_PRELOAD];
    const child = this.registry.spawn(process.execPath, [...args, path.join(ROOT, this.spec.entry)], {
      cwd: ROOT,
      env: { ...this.env, ...this.spec.env, OTEL_SERVICE_NAME: this.name === 'agent' ? 'autoheal-agent' : this.name },
      stdio: ['ignore', 'pipe', 'pipe'],
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
 * restartOnExit, onOutput(name, chunk), onExit(name, code, signal), registry (processes.js; every
 * process is started through it), stopTimeoutMs (SIGKILL after it on stop; default 10 s).
 */
async function startSystem(options) {
  const ports = { ...DEFAULT_PORTS, ...(options.ports || {}) };
  const stateDir = options.stateDir;
  const logDir = path.join(stateDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const fleetFile = options.fleetFile || path.join(ROOT, 'deploy/demo/fleet.json');
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
  const table = serviceTable(ports);
  const databaseUrls = serviceDatabaseUrls(options.databaseUrl);
  // The auditor's REST reads and the decision admin API's reads log in as their own SELECT-only
  // roles (row-level security per tenant), on pools of their own.
  const readerUrls = {
    // The checkpoints' file sink: a directory of JSON lines beside the database (production: WORM storage, see the auditor README).
    auditor: { DATABASE_READER_URL: roleUrl(options.databaseUrl, 'auditorReader'), AUDITOR_CHECKPOINT_DIR: path.join(stateDir, 'checkpoints') },
    decision: { DATABASE_READER_URL: roleUrl(options.databaseUrl, 'decisionReader') },
  };
  Object.assign(env, addSigningKeys(table, path.join(stateDir, 'keys')), options.env || {});
  const registry = options.registry || new ProcessRegistry();
  const services = new Map();
  for (const name of ['auditor', 'detector', 'decision', 'executor', 'agent']) {
    // Each service logs in as its own Postgres role (the agent gets no database at all) and
    // connects to NATS as its own identity (TLS CA and NKey seed), when given.
    const spec = { ...table[name], env: { ...table[name].env, DATABASE_URL: databaseUrls[name] || '', ...(readerUrls[name] || {}) } };
    const processEnv = { ...env, ...natsEnvFor(name, options.natsCredentials) };
    if (name === 'agent') {
      // The agent reads its own config file: the demo fleet, with what this process would have had.
      spec.env.AUTOHEAL_AGENT_CONFIG = writeAgentConfig(path.join(stateDir, 'agent', 'agent.config.json'), fleetFile, { ...processEnv, ...spec.env });
    }
    const proc = new ManagedProcess(name, spec, processEnv, logDir, { ...options, registry });
    services.set(name, proc);
    proc.start();
  }
  const system = {
    ports,
    services,
    logDir,
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

module.exports = { startSystem, migrateAll, waitForHealth, DEFAULT_PORTS, ROOT };
