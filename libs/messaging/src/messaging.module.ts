import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Identity } from '@autoheal/security';
import { EventPublisher } from './event-publisher.js';
import { raiseSecurityEvent, SignedEventGuard, type ProvenanceGuard } from './event-provenance.js';
import { closeNats, connectNats } from './nats-connection.js';
import { natsCredentialFiles, type NatsCredentialFiles } from './nats-credentials.js';
import { SERVICE_STREAMS, type ServiceName } from './nats-permissions.js';
import { loadSigningMaterial, type SigningFiles, type SigningMaterial } from './signing-material.js';
import { provisionStreams } from './stream-provisioning.js';

export const NATS_CONNECTION = Symbol('NATS_CONNECTION');
/** The service's SigningMaterial (its key, the trust store, its identity). */
export const SIGNING_MATERIAL = Symbol('SIGNING_MATERIAL');
/** The ProvenanceGuard its consumers of control events use; by default a refusal raises a signed security event. */
export const EVENT_PROVENANCE = Symbol('EVENT_PROVENANCE');

export interface MessagingModuleOptions extends NatsCredentialFiles {
  servers: string;
  /** Connection name, normally the service name. */
  name: string;
  /** Stream names this service provisions at boot (those its NATS identity may create); all when omitted. */
  streams?: readonly string[];
  /** The key this service signs its control events with, and the trust store its consumers check against. */
  signing: SigningFiles;
  /** The identity the key must have in the trust store (the service's name). */
  identity: Identity;
}

class NatsConnectionLifecycle implements OnApplicationShutdown {
  constructor(@Inject(NATS_CONNECTION) private readonly nc: NatsConnection) {}

  async onApplicationShutdown(): Promise<void> {
    await closeNats(this.nc);
  }
}

/** What each of the four services reads from its environment for messaging (validated in its config.ts). */
export interface ServiceMessagingEnv {
  NATS_URL: string;
  NATS_NKEY_SEED_FILE?: string;
  NATS_TLS_CA_FILE?: string;
  AUTOHEAL_SIGNING_KEY_FILE: string;
  AUTOHEAL_TRUST_FILE: string;
}

/** One NATS connection per service (streams provisioned at boot) and the publisher over it. */
@Module({})
export class MessagingModule {
  /**
   * The messaging of one of the four services: its own NATS identity (seed and CA), only the
   * streams that identity may create, its signing key and the trust store, from its environment.
   */
  static forService(service: ServiceName, env: ServiceMessagingEnv): DynamicModule {
    return MessagingModule.forRoot({
      servers: env.NATS_URL,
      name: service,
      ...natsCredentialFiles(env),
      streams: SERVICE_STREAMS[service],
      identity: service,
      signing: { keyFile: env.AUTOHEAL_SIGNING_KEY_FILE, trustFile: env.AUTOHEAL_TRUST_FILE },
    });
  }

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
        // Loaded at boot: a missing or untrusted key stops the service with the file named.
        { provide: SIGNING_MATERIAL, useFactory: () => loadSigningMaterial(options.signing, options.identity) },
        {
          provide: EventPublisher,
          useFactory: (nc: NatsConnection, signing: SigningMaterial) => new EventPublisher(nc, { signer: signing.key }),
          inject: [NATS_CONNECTION, SIGNING_MATERIAL],
        },
        {
          provide: EVENT_PROVENANCE,
          useFactory: (signing: SigningMaterial, publisher: EventPublisher): ProvenanceGuard =>
            new SignedEventGuard({ trust: signing.trust, onRejected: raiseSecurityEvent(publisher, signing.identity) }),
          inject: [SIGNING_MATERIAL, EventPublisher],
        },
        NatsConnectionLifecycle,
      ],
      exports: [NATS_CONNECTION, EventPublisher, SIGNING_MATERIAL, EVENT_PROVENANCE],
    };
  }
}

/**
 * For readiness: the server answers a ping on this connection. Not closing is not enough: a
 * connection that lost its server stays open while it reconnects (without limit), so only a
 * round trip tells that events can flow. While disconnected the ping waits for a server, and the
 * health check's timeout turns that into a failure.
 */
export async function natsIsHealthy(nc: NatsConnection): Promise<{ ok: boolean; detail?: unknown }> {
  if (nc.isClosed() || nc.isDraining()) return { ok: false, detail: nc.isClosed() ? 'connection closed' : 'connection draining' };
  const rttMs = await nc.rtt();
  return { ok: true, detail: { rttMs } };
}
