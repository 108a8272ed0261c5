import { spawn, type StdioOptions } from 'node:child_process';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { SigningKey, TrustStore } from '@autoheal/security';
import { ExitReporter, natsCredentialOptions, type NatsCredentials } from '@autoheal/sdk';
import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { fleetInstances, fleetReleases, fleetWarmSpares, instanceKey, type FleetFile } from '../fleet/fleet-file.js';
import { serveAgentRequests } from './agent.handlers.js';
import { ChaosService } from './chaos.service.js';
import { FleetSupervisor } from './fleet-supervisor.js';
import { JsonFileOutcomeStorage } from './json-file-outcome-storage.js';
import type { ChangeListener, LaunchInstance } from './managed-instance.js';
import { OutcomeStore } from './outcome-store.js';
import { ReplySigner } from './reply-signer.js';
import { CommandService, commandOutcome, isFinalOutcome, type CommandOutcome } from './command.service.js';
import { InstancePidFile, killLeftoverInstances } from './leftover-instances.js';

export interface AgentOptions {
  natsUrl: string;
  /** The agent's own NKey seed and the server's CA. */
  credentials?: NatsCredentials;
  /** Folder of `producer-<tenant>.nk` seeds, one per tenant, handed to that tenant's instances. */
  producerSeedDir?: string;
  fleet: FleetFile;
  basePort: number;
  stateDir: string;
  heartbeatMs: number;
  readyTimeoutMs: number;
  /** How long an instance has to acknowledge a throttle limit (default 5 s). */
  ackTimeoutMs?: number;
  apiServerEntry: string;
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
export const PIDS_FILE = 'instance-pids.json';

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
  const pidFile = new InstancePidFile(join(options.stateDir, PIDS_FILE));
  await killLeftoverInstances(pidFile.path, options.apiServerEntry, logger);
  // Set once NATS is connected; an exit before that is still caught by its missed heartbeats.
  const exits: { reporter?: ExitReporter } = {};
  const supervisor = await FleetSupervisor.create({
    instances: fleetInstances(options.fleet),
    releases: fleetReleases(options.fleet),
    warmSpares: fleetWarmSpares(options.fleet),
    readyTimeoutMs: options.readyTimeoutMs,
    basePort: options.basePort,
    launch: recordingPids(nodeLauncher(options), pidFile),
    logger,
    onCrash: (ref, exit) => {
      exits.reporter
        ?.report({ ...ref, exitCode: exit.code, signal: exit.signal })
        .catch((error: unknown) => logger.error({ ...ref, err: error }, 'could not report the exit; the heartbeat deadline will catch it'));
    },
    onChange: (change) => {
      logger.info({ ...change.ref, remediationId: change.remediationId, change: change.verb, ...change.detail }, 'instance changed for a remediation');
      options.onChange?.(change);
    },
  });
  supervisor.startAll();

  let nc: NatsConnection;
  try {
    nc = await connect({
      ...natsCredentialOptions(options.credentials ?? {}),
      servers: options.natsUrl,
      name: 'demo-fleet-agent',
      maxReconnectAttempts: -1,
      waitOnFirstConnect: true,
    });
  } catch (error) {
    await supervisor.stopAll();
    throw error;
  }
  exits.reporter = new ExitReporter(nc, { producer: 'demo-fleet-agent' });
  let paused = false;
  const subscriptions = serveAgentRequests(nc, fleetInstances(options.fleet), {
    commands: new CommandService({
      supervisor,
      outcomes,
      clock,
      readyTimeoutMs: options.readyTimeoutMs,
      ackTimeoutMs: options.ackTimeoutMs ?? 5_000,
      logger,
      commands: { trust: options.signing.trust, maxSkewMs: options.signing.maxSkewMs ?? 5_000, maxLifetimeMs: options.signing.maxCommandLifetimeMs ?? 300_000 },
    }),
    replies: new ReplySigner(options.signing.key, options.signing.agentId, clock),
    chaos: new ChaosService(supervisor, logger, options.readyTimeoutMs),
    supervisor,
    logger,
    paused: () => paused,
  });
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
      pidFile.set(key, pid);
      child.once('exit', () => pidFile.delete(key, pid));
    }
    return child;
  };
}

/**
 * Each instance is a process of its release: the release's command, or node running the compiled
 * api-server, with its identity and release in the environment.
 */
function nodeLauncher(options: AgentOptions): LaunchInstance {
  const stdio: StdioOptions = [
    'ignore',
    options.childStdio ?? 'inherit',
    options.childStdio ?? 'inherit',
    // The IPC channel lets the instance notice when the agent is gone (see api-server.main.ts).
    'ipc',
  ];
  // An instance never inherits the agent's own NATS identity (it reports as its tenant's producer),
  // nor where the agent's private key is: it is the tenant's code.
  const { NATS_NKEY_SEED_FILE: _agentSeed, AUTOHEAL_SIGNING_KEY_FILE: _agentKey, ...inherited } = process.env;
  return (ref, port, release, role = 'instance') => {
    const [program, ...args] = release.command ?? [process.execPath, options.apiServerEntry];
    return spawn(program, args, {
      env: {
        ...inherited,
        ...release.env,
        RELEASE_VERSION: release.version,
        ...(options.producerSeedDir ? { NATS_NKEY_SEED_FILE: join(options.producerSeedDir, `producer-${ref.tenantId}.nk`) } : {}),
        ...(options.credentials?.tlsCaFile ? { NATS_TLS_CA_FILE: options.credentials.tlsCaFile } : {}),
        TENANT_ID: ref.tenantId,
        SERVICE: ref.service,
        INSTANCE: ref.instance,
        PORT: String(port),
        NATS_URL: options.natsUrl,
        HEARTBEAT_MS: String(options.heartbeatMs),
        // A warm spare stays silent (no health, no synthetic traffic) until promoted over IPC.
        ...(role === 'spare' ? { AUTOHEAL_SPARE: '1' } : {}),
      },
      stdio,
    });
  };
}
