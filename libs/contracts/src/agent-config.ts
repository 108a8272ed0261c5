import { z } from 'zod';
import { DEGRADATIONS } from './agent-instance.js';
import { subjectToken } from './subject-token.js';

/**
 * The host agent's config file (apps/agent, `autoheal-agent --config <file>`): who the agent is,
 * how it reaches NATS, whose commands it takes, and the processes it supervises. The agent
 * validates it once at boot and names every bad field. Here, not in the agent, because tools
 * that write it (the demo fleet's generator, a team's own config management) share the schema.
 */

/** The release name `rollback` takes to mean "the one before the current", so no release may be called that. */
export const PREVIOUS_RELEASE = 'previous';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');
const environment = z.record(envName, z.string());
const commandLine = z.array(z.string().min(1)).min(1);

/**
 * One release of a service. `command` (program and arguments) replaces the service's for this
 * release; `env` is added to the service's. Every process also gets `RELEASE_VERSION=<version>`.
 * A `staged` release is declared but not rolled out: no instance starts on it.
 */
export const agentRelease = z
  .object({
    version: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 of A-Z a-z 0-9 . _ - (a release version)')
      .refine((v) => v !== PREVIOUS_RELEASE, `"${PREVIOUS_RELEASE}" is reserved (rollback's "the one before the current")`),
    command: commandLine.optional(),
    env: environment.optional(),
    staged: z.boolean().optional(),
    /**
     * A fault this release is known to simulate from its first request (a bad release kept for
     * drills): reported as the instance's `degradation` in agent.status, since no restart clears it.
     */
    fault: z.enum(DEGRADATIONS).optional(),
  })
  .strict();
export type AgentRelease = z.infer<typeof agentRelease>;

/** A service that declares no releases runs this one, and has nothing to roll back to. */
export const INITIAL_RELEASE: AgentRelease = { version: 'initial' };

/**
 * How the agent tells that a process it started is ready: `GET http://127.0.0.1:<port><path>`
 * answers 200. With `pidField`, the JSON answer must also carry the new process's pid in that
 * field, so an answer from another process on the port (the old one, a squatter) never counts.
 */
export const agentReadyProbe = z
  .object({
    path: z.string().regex(/^\/[^\s?#]*$/, 'must be an absolute path such as /healthz').default('/healthz'),
    pidField: z.string().min(1).max(64).optional(),
  })
  .strict();
export type AgentReadyProbe = z.infer<typeof agentReadyProbe>;

const agentInstance = z
  .object({
    name: subjectToken,
    /** The instance's public port; 0: one the OS picks at boot. */
    port: z.number().int().min(0).max(65_535),
  })
  .strict();

/** One service of one tenant: its instances and how to run them. */
export const agentService = z
  .object({
    tenantId: subjectToken,
    service: subjectToken,
    instances: z.array(agentInstance).min(1),
    /** Program and arguments of every process of the service (a release may replace it). */
    command: commandLine,
    /** Added to every process's environment (the release's env on top). */
    env: environment.default({}),
    /** Working directory of the processes; absent: the agent's. */
    workingDir: z.string().min(1).optional(),
    ready: agentReadyProbe.default({ path: '/healthz' }),
    /** The release history, oldest first; instances start on the last that is not staged. */
    releases: z.array(agentRelease).min(1).default([INITIAL_RELEASE]),
    /**
     * Extra processes of the current release kept started and ready, taking no traffic, to switch
     * an instance's front to when it is healed. Declaring it (0 included) gives every instance of
     * the service a front the agent owns on the instance's port.
     */
    warmSpares: z.number().int().min(0).max(8).optional(),
    /** A cap of this host on scale_out, below the plan's `maxInstances` when lower. */
    maxInstances: z.number().int().min(1).max(1_000).optional(),
    /**
     * How a throttle limit reaches the process: `ipc`, the Node IPC channel every process is
     * started with (the SDK's acceptSupervisorCommands); `none`: the service cannot be throttled.
     */
    throttle: z.enum(['ipc', 'none']).default('ipc'),
  })
  .strict()
  .superRefine((service, ctx) => {
    if (service.releases.every((r) => r.staged)) {
      ctx.addIssue({ code: 'custom', path: ['releases'], message: 'every release is staged: the instances would have none to start on' });
    }
    const seen = new Set<string>();
    service.releases.forEach((r, i) => {
      if (seen.has(r.version)) ctx.addIssue({ code: 'custom', path: ['releases', i, 'version'], message: `duplicate release ${r.version}` });
      seen.add(r.version);
    });
  });
export type AgentService = z.infer<typeof agentService>;
export type AgentServiceInput = z.input<typeof agentService>;

export const agentConfigFile = z
  .object({
    /** This agent's id; its key must be listed as `agent:<agentId>` in the trust file, and the executor maps targets to it. */
    agentId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ -'),
    nats: z
      .object({
        url: z.string().min(1),
        /** The agent's own NKey seed; a tls:// url needs `tlsCaFile` too. */
        nkeySeedFile: z.string().min(1).optional(),
        tlsCaFile: z.string().min(1).optional(),
      })
      .strict(),
    signing: z
      .object({
        /** The agent's Ed25519 key (PEM), which signs every reply. */
        keyFile: z.string().min(1),
        /** The trust file: must list the executor's key(s), and this agent's as `agent:<agentId>`. */
        trustFile: z.string().min(1),
        /** Clock difference tolerated between the executor and this agent on a command's issuedAt/expiresAt. */
        maxCommandSkewMs: z.number().int().min(0).max(60_000).default(5_000),
      })
      .strict(),
    /** Where the agent keeps its command outcomes and the pids of its processes (survives restarts). */
    stateDir: z.string().min(1),
    /** Folder of the tenants' producer seeds (`producer-<tenant>.nk`): each process reports health with its tenant's, never the agent's. */
    producerSeedDir: z.string().min(1).optional(),
    /** How long a new process has to pass its ready probe before the action is reported not_ready. */
    readyTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /** How long a process has to acknowledge a throttle limit sent over its IPC channel. */
    ackTimeoutMs: z.number().int().min(100).max(60_000).default(5_000),
    /** Whether the agent answers `agent.chaos` (breaking its instances on purpose): for demos and game days. */
    chaos: z.boolean().default(false),
    services: z.array(agentService).min(1),
  })
  .strict()
  .superRefine((config, ctx) => {
    const instances = new Set<string>();
    const ports = new Map<number, string>();
    config.services.forEach((service, s) => {
      service.instances.forEach((instance, i) => {
        const key = `${service.tenantId}/${service.service}/${instance.name}`;
        if (instances.has(key)) ctx.addIssue({ code: 'custom', path: ['services', s, 'instances', i, 'name'], message: `duplicate instance ${key}` });
        instances.add(key);
        const holder = ports.get(instance.port);
        if (instance.port !== 0 && holder) ctx.addIssue({ code: 'custom', path: ['services', s, 'instances', i, 'port'], message: `port ${instance.port} is also ${holder}'s` });
        ports.set(instance.port, key);
      });
    });
  });
export type AgentConfigFile = z.infer<typeof agentConfigFile>;
/** What a file may say: defaults not filled in yet. */
export type AgentConfigFileInput = z.input<typeof agentConfigFile>;
