import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { EventPublisher } from './event-publisher.js';
import { closeNats, connectNats } from './nats-connection.js';
import type { NatsCredentialFiles } from './nats-credentials.js';
import { provisionStreams } from './stream-provisioning.js';

export const NATS_CONNECTION = Symbol('NATS_CONNECTION');

export interface MessagingModuleOptions extends NatsCredentialFiles {
  servers: string;
  /** Connection name, normally the service name. */
  name: string;
  /** Stream names this service provisions at boot (those its NATS identity may create); all when omitted. */
  streams?: readonly string[];
}

class NatsConnectionLifecycle implements OnApplicationShutdown {
  constructor(@Inject(NATS_CONNECTION) private readonly nc: NatsConnection) {}

  async onApplicationShutdown(): Promise<void> {
    await closeNats(this.nc);
  }
}

/** One NATS connection per service (streams provisioned at boot) and the publisher over it. */
@Module({})
export class MessagingModule {
  static forRoot(options: MessagingModuleOptions): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      providers: [
        {
          provide: NATS_CONNECTION,
          useFactory: async () => {
            const nc = await connectNats({ servers: options.servers, name: options.name, seedFile: options.seedFile, caFile: options.caFile });
            await provisionStreams(nc, undefined, options.streams);
            return nc;
          },
        },
        { provide: EventPublisher, useFactory: (nc: NatsConnection) => new EventPublisher(nc), inject: [NATS_CONNECTION] },
        NatsConnectionLifecycle,
      ],
      exports: [NATS_CONNECTION, EventPublisher],
    };
  }
}

/** For /health: connected and not closing. */
export function natsIsHealthy(nc: NatsConnection): boolean {
  return !nc.isClosed() && !nc.isDraining();
}
