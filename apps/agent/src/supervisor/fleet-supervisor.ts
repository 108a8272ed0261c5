import { createServer } from 'node:net';
import type { Logger } from '../logger.js';
import { configuredInstances, instanceKey, serviceKey, startingRelease, type InstanceRef, type Release, type ServiceConfig } from '../config/agent-config.js';
import { FrontProxy } from './front-proxy.js';
import { ManagedInstance, type ChangeListener, type CrashListener, type InstanceStatus, type LaunchInstance } from './managed-instance.js';
import type { ReadyProbe } from './readiness.js';
import { SparePool } from './spare-pool.js';

export interface FleetSupervisorOptions {
  /** The services of the agent's config: instances, releases (oldest first), ready probe, warm spares. */
  services: readonly ServiceConfig[];
  launch: LaunchInstance;
  logger: Logger;
  onCrash?: CrashListener;
  onChange?: ChangeListener;
  /** How long a spare has to pass its ready probe (default 10 s). */
  readyTimeoutMs?: number;
}

/**
 * The instances this agent runs. Those of its config keep their port across restarts;
 * instances added by scale_out, and the new process of a replace, get a free port from the OS.
 */
export class FleetSupervisor {
  static async create(options: FleetSupervisorOptions): Promise<FleetSupervisor> {
    const instances = configuredInstances(options.services);
    const ports = await assignPorts(instances.map((i) => i.port));
    const supervisor = new FleetSupervisor(options);
    for (const [i, { ref }] of instances.entries()) {
      if (supervisor.serviceOf(ref).warmSpares !== undefined) {
        // The configured port is the front's; the process behind it listens on a private one.
        const processPort = await freePort();
        supervisor.register(ref, processPort, supervisor.currentRelease(ref), await FrontProxy.listen(ports[i], processPort));
      } else {
        supervisor.register(ref, ports[i], supervisor.currentRelease(ref));
      }
    }
    for (const service of options.services) {
      const size = service.warmSpares ?? 0;
      if (size === 0) continue;
      supervisor.pools.set(
        serviceKey(service),
        new SparePool({
          tenantId: service.tenantId,
          service: service.service,
          size,
          release: startingRelease(service.releases),
          probe: service.ready,
          launch: options.launch,
          freePort,
          readyTimeoutMs: options.readyTimeoutMs ?? 10_000,
          logger: options.logger,
        }),
      );
    }
    return supervisor;
  }

  /** Each service's warm spares, by serviceKey (only services declaring at least one). */
  private readonly pools = new Map<string, SparePool>();

  private readonly byKey = new Map<string, ManagedInstance>();
  /** scale_out's count-then-start, one at a time per service. */
  private readonly serviceQueues = new Map<string, Promise<unknown>>();

  private readonly services: Map<string, ServiceConfig>;

  private constructor(private readonly options: FleetSupervisorOptions) {
    this.services = new Map(options.services.map((service) => [serviceKey(service), service]));
  }

  get instances(): ManagedInstance[] {
    return [...this.byKey.values()];
  }

  find(ref: InstanceRef): ManagedInstance | undefined {
    return this.byKey.get(instanceKey(ref));
  }

  /** The warm spares of the instance's service; undefined when it declares none. */
  sparesOf(ref: Pick<InstanceRef, 'tenantId' | 'service'>): SparePool | undefined {
    return this.pools.get(serviceKey(ref));
  }

  /** Each service's spares now, for agent.status. */
  spareStatus(): { tenantId: string; service: string; size: number; spares: ReturnType<SparePool['status']> }[] {
    return [...this.pools.entries()].map(([key, pool]) => {
      const [tenantId, service] = key.split('/');
      return { tenantId, service, size: pool.size, spares: pool.status() };
    });
  }

  /** The configured service of an instance this agent runs (every instance belongs to one). */
  serviceOf(ref: Pick<InstanceRef, 'tenantId' | 'service'>): ServiceConfig {
    const service = this.services.get(serviceKey(ref));
    if (!service) throw new Error(`${serviceKey(ref)} is not a service of this agent`);
    return service;
  }

  /** The service's release history, oldest first. */
  releasesOf(ref: Pick<InstanceRef, 'tenantId' | 'service'>): Release[] {
    return this.serviceOf(ref).releases;
  }

  /** How to tell that a new process of the service is ready. */
  readyProbeOf(ref: Pick<InstanceRef, 'tenantId' | 'service'>): ReadyProbe {
    return this.serviceOf(ref).ready;
  }

  /** The instances of one service, in the order they were added. */
  instancesOf(ref: Pick<InstanceRef, 'tenantId' | 'service'>): ManagedInstance[] {
    return this.instances.filter((i) => i.ref.tenantId === ref.tenantId && i.ref.service === ref.service);
  }

  /** Runs `fn` after every earlier call for the same service has finished. */
  exclusiveForService<R>(ref: Pick<InstanceRef, 'tenantId' | 'service'>, fn: () => Promise<R>): Promise<R> {
    const key = serviceKey(ref);
    const next = (this.serviceQueues.get(key) ?? Promise.resolve()).then(fn, fn);
    this.serviceQueues.set(
      key,
      next.catch(() => undefined),
    );
    return next;
  }

  /** Adds an instance on a free port and the given release; it is not started. */
  async add(ref: InstanceRef, release: Release): Promise<ManagedInstance> {
    if (this.find(ref)) throw new Error(`${instanceKey(ref)} already exists`);
    return this.register(ref, await freePort(), release);
  }

  /** Drops an instance that never came up (a scale_out that failed); its process, if any, must be gone. */
  forget(ref: InstanceRef): void {
    this.byKey.delete(instanceKey(ref));
  }

  /** Starts every instance; one that cannot be spawned is logged and left exited. */
  startAll(): void {
    for (const instance of this.instances) {
      try {
        instance.start();
      } catch (error) {
        this.options.logger.error({ ...instance.ref, err: error }, 'instance could not be started; it stays exited');
      }
    }
    for (const pool of this.pools.values()) pool.fill();
  }

  status(): InstanceStatus[] {
    return this.instances.map((i) => (i.fronted ? { ...i.status(), sparesReady: this.sparesOf(i.ref)?.status().filter((s) => s.ready).length ?? 0 } : i.status()));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.stop()));
    await Promise.all(this.instances.map((i) => i.stop()));
  }

  private currentRelease(ref: InstanceRef): Release {
    return startingRelease(this.releasesOf(ref));
  }

  private register(ref: InstanceRef, port: number, release: Release, front?: FrontProxy): ManagedInstance {
    const instance = new ManagedInstance(ref, port, release, this.options.launch, this.options.logger, this.options.onCrash, this.options.onChange, front);
    this.byKey.set(instanceKey(ref), instance);
    return instance;
  }
}

/** A port the OS says is free now (it may be taken before it is used; the new process then fails to start, and says so). */
export async function freePort(): Promise<number> {
  return (await assignPorts([0]))[0];
}

/** The configured ports, each 0 replaced by a distinct port the OS says is free. */
async function assignPorts(configured: readonly number[]): Promise<number[]> {
  const count = configured.filter((port) => port === 0).length;
  const ports: number[] = [];
  // Held open together so that the OS hands out distinct ports.
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen({ host: '127.0.0.1', port: 0 }, () => resolve(server));
        }),
    ),
  );
  for (const server of servers) {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('could not determine a free port');
    ports.push(address.port);
  }
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return configured.map((port) => (port === 0 ? (ports.shift() as number) : port));
}
