import { createServer } from 'node:net';
import type { Logger } from '../logger.js';
import { instanceKey, type InstanceRef } from '../fleet/fleet-file.js';
import { ManagedInstance, type CrashListener, type InstanceStatus, type LaunchInstance } from './managed-instance.js';

export interface FleetSupervisorOptions {
  instances: InstanceRef[];
  /** Instance i listens on basePort + i; 0 lets the OS pick a free port for each. */
  basePort: number;
  launch: LaunchInstance;
  logger: Logger;
  onCrash?: CrashListener;
}

/** The instances this agent runs, each on a port that stays the same across restarts. */
export class FleetSupervisor {
  static async create(options: FleetSupervisorOptions): Promise<FleetSupervisor> {
    const ports = await assignPorts(options.instances.length, options.basePort);
    return new FleetSupervisor(
      options.instances.map((ref, i) => new ManagedInstance(ref, ports[i], options.launch, options.logger, options.onCrash)),
      options.logger,
    );
  }

  private readonly byKey: Map<string, ManagedInstance>;

  private constructor(
    readonly instances: ManagedInstance[],
    private readonly logger: Logger,
  ) {
    this.byKey = new Map(instances.map((i) => [instanceKey(i.ref), i]));
  }

  find(ref: InstanceRef): ManagedInstance | undefined {
    return this.byKey.get(instanceKey(ref));
  }

  /** Starts every instance; one that cannot be spawned is logged and left exited. */
  startAll(): void {
    for (const instance of this.instances) {
      try {
        instance.start();
      } catch (error) {
        this.logger.error({ ...instance.ref, err: error }, 'instance could not be started; it stays exited');
      }
    }
  }

  status(): InstanceStatus[] {
    return this.instances.map((i) => i.status());
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.stop()));
  }
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
