import { createServer } from 'node:net';
import type { Logger } from '../logger.js';
import { INITIAL_RELEASE, instanceKey, serviceKey, startingRelease, type InstanceRef, type Release } from '../fleet/fleet-file.js';
import { FrontProxy } from './front-proxy.js';
import { ManagedInstance, type ChangeListener, type CrashListener, type InstanceStatus, type LaunchInstance } from './managed-instance.js';
import { SparePool } from './spare-pool.js';

export interface FleetSupervisorOptions {
  instances: InstanceRef[];
  /** Each service's release history, oldest first (serviceKey → releases); instances start on the last not staged. Absent: one release, `initial`. */
  releases?: Map<string, Release[]>;
  /** Instance i listens on basePort + i; 0 lets the OS pick a free port for each. */
  basePort: number;
  launch: LaunchInstance;
  logger: Logger;
  onCrash?: CrashListener;
  onChange?: ChangeListener;
  /** The services that declare warm spares (serviceKey → how many): their instances get a front, and the service a spare pool. */
  warmSpares?: Map<string, number>;
  /** How long a spare has to answer GET /healthz (default 10 s). */
  readyTimeoutMs?: number;
}

/**
 * The instances this agent runs. Those of the fleet file keep their port across restarts;
 * instances added by scale_out, and the new process of a replace, get a free port from the OS.
 */
export class FleetSupervisor {
  static async create(options: FleetSupervisorOptions): Promise<FleetSupervisor> {
    const ports = await assignPorts(options.instances.length, options.basePort);
    const supervisor = new FleetSupervisor(options);
    for (const [i, ref] of options.instances.entries()) {
      if (options.warmSpares?.has(serviceKey(ref))) {
        // The fleet port is the front's; the process behind it listens on a private one.
        const processPort = await freePort();
        supervisor.register(ref, processPort, supervisor.currentRelease(ref), await FrontProxy.listen(ports[i], processPort));
      } else {
        supervisor.register(ref, ports[i], supervisor.currentRelease(ref));
      }
    }
    for (const [key, size] of options.warmSpares ?? []) {
      const [tenantId, service] = key.split('/');
      if (size === 0) continue;
      supervisor.pools.set(
        key,
        new SparePool({
          tenantId,
          service,
          size,
          release: supervisor.currentRelease({ tenantId, service, instance: '' }),
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

  private constructor(private readonly options: FleetSupervisorOptions) {}

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

  /** The service's release history, oldest first. */
  releasesOf(ref: Pick<InstanceRef, 'tenantId' | 'service'>): Release[] {
    return this.options.releases?.get(serviceKey(ref)) ?? [INITIAL_RELEASE];
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
  return (await assignPorts(1, 0))[0];
}

async function assignPorts(count: number, basePort: number): Promise<number[]> {
  if (basePort > 0) return Array.from({ length: count }, (_, i) => basePort + i);
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
  return ports;
}
