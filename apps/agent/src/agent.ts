import { spawn, type StdioOptions } from 'node:child_process';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { SigningKey, TrustStore } from '@autoheal/security';
import { ExitReporter, natsCredentialOptions, type NatsCredentials } from '@autoheal/sdk';
import { systemClock, type Clock } from './clock.js';
import type { Logger } from './logger.js';
import { configuredInstances, failoverListeners, instanceKey, type ServiceConfig } from './config/agent-config.js';
import { serveAgentRequests } from './agent.handlers.js';
import { ChaosService } from './chaos/chaos.service.js';
import { FleetSupervisor } from './supervisor/fleet-supervisor.js';
import { JsonFileOutcomeStorage } from './commands/json-file-outcome-storage.js';
import type { ChangeListener, LaunchInstance } from './supervisor/managed-instance.js';
import { OutcomeStore } from './commands/outcome-store.js';
import { ReplySigner } from './commands/reply-signer.js';
import { CommandService, commandOutcome, isFinalOutcome, type CommandOutcome } from './commands/command.service.js';
import { InstancePidFile, killLeftoverInstances } from './supervisor/leftover-instances.js';
import { SwitchoverArms, switchoverArm } from './commands/switchover-arms.js';
import { restartUnderArm, switchUnderArm } from './commands/armed-switchover.js';

export interface AgentOptions {
  natsUrl: string;
  /** The agent's own NKey seed and the server's CA. */
  credentials?: NatsCredentials;
  /** Folder of `producer-<tenant>.nk` seeds, one per tenant, handed to that tenant's instances. */
  producerSeedDir?: string;
  /** The services of the agent's config: what to run, how, and on which ports. */
  services: readonly ServiceConfig[];
  /** The host's region; needed to take failovers into the standbys it keeps. */
  region?: string;
  stateDir: string;
  readyTimeoutMs: number;
  /** How long an instance has to acknowledge a throttle limit (default 5 s). */
  ackTimeoutMs?: number;
  /** Whether to answer agent.chaos (default false). */
  chaos?: boolean;
  logger: Logger;
  clock?: Clock;
  /** Where the instances' stdout/stderr go; the agent's own by default. */
  childStdio?: 'inherit' | 'ignore';
  signing: AgentSigning;
  /** Told of every change the agent makes to its processes for a remediation, as it happens (they are logged too). */
  onChange?: ChangeListener;
}

/** Whom the agent takes commands from, and the key it answers with. */
export interface AgentSigning {
  /** The agent's id: its key is `agent:<agentId>` in the executor's trust store. */
  agentId: string;
  key: SigningKey;
  /** Must list the executor's key(s). */
  trust: TrustStore;
  /** Clock difference tolerated on a command's issuedAt/expiresAt (default 5 s). */
  maxSkewMs?: number;
  /** Longest validity a command may ask for (default 5 min). */
  maxCommandLifetimeMs?: number;
}

export interface RunningAgent {
  supervisor: FleetSupervisor;
  nc: NatsConnection;
  /**
   * Stops answering commands until the returned function is called: they arrive and are dropped
   * unanswered, as by a stalled agent. What a caller's time bound is tested against.
   */
  pause(): () => void;
  /** Stops answering requests, stops every instance and closes the connection. */
  stop(): Promise<void>;
  /** Resolves when the NATS connection is closed, by stop() or for good. */
  closed: Promise<void | Error>;
}

export const OUTCOMES_FILE = 'command-outcomes.json';
/** The `producer` of the events the agent publishes itself (health.exited of its instances). */
export const AGENT_PRODUCER = 'autoheal-agent';
export const PIDS_FILE = 'instance-pids.json';
export const ARMS_FILE = 'switchover-arms.json';

/** Wires the agent: instances first (they report their own health), then NATS request/reply. */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  const storage = new JsonFileOutcomeStorage<CommandOutcome>(join(options.stateDir, OUTCOMES_FILE), commandOutcome, (movedTo, reason) =>
    logger.error({ movedTo, reason }, 'command outcomes file unreadable; moved aside, starting without remembered outcomes'),
  );
  const outcomes = await OutcomeStore.open(storage, {
    keep: isFinalOutcome,
    onSaveError: (error) => logger.error({ err: error, path: storage.path }, 'could not save command outcomes'),
  });
  const armsStorage = new JsonFileOutcomeStorage(join(options.stateDir, ARMS_FILE), switchoverArm, (movedTo, reason) =>
    logger.error({ movedTo, reason }, 'switchover arms file unreadable; moved aside, starting without arms (crashes are healed through the control plane until re-armed)'),
  );
  const arms = await SwitchoverArms.open(armsStorage, logger);
  const pidFile = new InstancePidFile(join(options.stateDir, PIDS_FILE));
  await killLeftoverInstances(pidFile.path, logger);
  // Set once NATS is connected; an exit before that is still caught by its missed heartbeats.
  const exits: { reporter?: ExitReporter } = {};
  const fleet: { supervisor?: FleetSupervisor } = {};
  const supervisor = await FleetSupervisor.create({
    services: options.services,
    readyTimeoutMs: options.readyTimeoutMs,
    launch: recordingPids(processLauncher(options), pidFile),
    logger,
    onCrash: (ref, exit) => {
      // Under an armed switchover the instance is healed first (its front moved to a spare at
      // once, or else, where the arm allows, a new process spawned), then the exit is reported, saying so.
      const ctx = fleet.supervisor ? { supervisor: fleet.supervisor, arms, clock, logger } : null;
      const switched = ctx ? switchUnderArm(ctx, ref) : null;
      const restarted = ctx && !switched ? restartUnderArm(ctx, ref) : Promise.resolve(null);
      void restarted
        .then(async (restartedUnderArm) => {
          if (switched || restartedUnderArm) await arms.flushed();
          await exits.reporter?.report({ ...ref, exitCode: exit.code, signal: exit.signal, ...(switched ? { switchedUnderArm: switched } : {}), ...(restartedUnderArm ? { restartedUnderArm } : {}) });
        })
        .catch((error: unknown) => logger.error({ ...ref, err: error }, 'could not report the exit; the heartbeat deadline will catch it'));
    },
    onChange: (change) => {
      logger.info({ ...change.ref, remediationId: change.remediationId, change: change.verb, ...change.detail }, 'instance changed for a remediation');
      options.onChange?.(change);
    },
  });
  fleet.supervisor = supervisor;
  supervisor.startAll();

  let nc: NatsConnection;
  try {
    nc = await connect({
      ...natsCredentialOptions(options.credentials ?? {}),
      servers: options.natsUrl,
      name: `${AGENT_PRODUCER}:${options.signing.agentId}`,
      maxReconnectAttempts: -1,
      waitOnFirstConnect: true,
    });
  } catch (error) {
    await supervisor.stopAll();
    throw error;
  }
  exits.reporter = new ExitReporter(nc, { producer: AGENT_PRODUCER });
  let paused = false;
  // A standby's instances bear the names of the instances they stand in for (so that their
  // heartbeats, once failed over, are those the detector misses): the primary's agent takes the
  // commands on those names, this one only the service's failovers.
  const commandTargets = configuredInstances(options.services.filter((s) => !s.standby)).map((i) => i.ref);
  const subscriptions = serveAgentRequests(nc, commandTargets, {
    commands: new CommandService({
      supervisor,
      outcomes,
      clock,
      readyTimeoutMs: options.readyTimeoutMs,
      ackTimeoutMs: options.ackTimeoutMs ?? 5_000,
      logger,
      arms,
      commands: { trust: options.signing.trust, maxSkewMs: options.signing.maxSkewMs ?? 5_000, maxLifetimeMs: options.signing.maxCommandLifetimeMs ?? 300_000 },
      region: options.region,
    }),
    replies: new ReplySigner(options.signing.key, options.signing.agentId, clock),
    chaos: options.chaos ? new ChaosService(supervisor, logger, options.readyTimeoutMs) : undefined,
    supervisor,
    armOf: (ref) => {
      const arm = arms.current(ref, clock.now());
      return arm ? { remediationId: arm.remediationId, expiresAt: arm.expiresAt, heals: arm.heals } : null;
    },
    logger,
    paused: () => paused,
  }, failoverListeners(options));
  await nc.flush();
  logger.info(
    { instances: supervisor.status().map((s) => ({ instance: `${s.tenantId}/${s.service}/${s.instance}`, port: s.port, instancePid: s.pid })), rememberedOutcomes: outcomes.size },
    'agent ready',
  );

  let stopping: Promise<void> | undefined;
  return {
    supervisor,
    nc,
    closed: nc.closed(),
    pause() {
      paused = true;
      return () => {
        paused = false;
      };
    },
    stop() {
      stopping ??= (async () => {
        for (const subscription of subscriptions) subscription.unsubscribe();
        await supervisor.stopAll();
        if (!nc.isClosed()) await nc.drain().catch(() => undefined);
      })();
      return stopping;
    },
  };
}

function recordingPids(launch: LaunchInstance, pidFile: InstancePidFile): LaunchInstance {
  return (ref, port, release, role) => {
    const child = launch(ref, port, release, role);
    const pid = child.pid;
    if (pid !== undefined) {
      // One entry per process: during a replace, two run for one instance.
      const key = `${instanceKey(ref)}#${pid}`;
      pidFile.set(key, pid, child.spawnargs);
      child.once('exit', () => pidFile.delete(key, pid));
    }
    return child;
  };
}

/**
 * Each instance is a process of its release: the release's command, else its service's, with the
 * service's and the release's env and its identity in the environment (see the README).
 */
function processLauncher(options: AgentOptions): LaunchInstance {
  const stdio: StdioOptions = [
    'ignore',
    options.childStdio ?? 'inherit',
    options.childStdio ?? 'inherit',
    // The IPC channel carries throttle limits and promotions, and lets a Node instance notice
    // when the agent is gone; a program that does not use it ignores it.
    'ipc',
  ];
  // An instance never inherits the agent's own NATS identity (it reports as its tenant's producer),
  // nor where the agent's private key or config is: it is the tenant's code.
  const { NATS_NKEY_SEED_FILE: _agentSeed, AUTOHEAL_SIGNING_KEY_FILE: _agentKey, AUTOHEAL_AGENT_CONFIG: _config, ...inherited } = process.env;
  const services = new Map(options.services.map((service) => [`${service.tenantId}/${service.service}`, service]));
  return (ref, port, release, role = 'instance') => {
    const service = services.get(`${ref.tenantId}/${ref.service}`);
    if (!service) throw new Error(`${ref.tenantId}/${ref.service} is not a service of this agent`);
    const [program, ...args] = release.command ?? service.command;
    return spawn(program, args, {
      cwd: service.workingDir,
      env: {
        ...inherited,
        ...service.env,
        ...release.env,
        RELEASE_VERSION: release.version,
        ...(options.producerSeedDir ? { NATS_NKEY_SEED_FILE: join(options.producerSeedDir, `producer-${ref.tenantId}.nk`) } : {}),
        ...(options.credentials?.tlsCaFile ? { NATS_TLS_CA_FILE: options.credentials.tlsCaFile } : {}),
        TENANT_ID: ref.tenantId,
        SERVICE: ref.service,
        INSTANCE: ref.instance,
        PORT: String(port),
        NATS_URL: options.natsUrl,
        // A warm spare stays silent (no health, no synthetic traffic) until promoted over IPC.
        ...(role === 'spare' ? { AUTOHEAL_SPARE: '1' } : {}),
      },
      stdio,
    });
  };
}
