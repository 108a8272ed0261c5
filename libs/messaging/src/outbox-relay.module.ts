import { Inject, Injectable, Module, type BeforeApplicationShutdown, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { OutboxRelay } from '@autoheal/persistence';
import { EventPublisher } from './event-publisher.js';

const RELAY_SCHEMA = Symbol('RELAY_SCHEMA');

@Injectable()
class OutboxRelayLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly relay: OutboxRelay;

  constructor(db: DataSource, publisher: EventPublisher, @Inject(RELAY_SCHEMA) schema: string) {
    this.relay = new OutboxRelay({ dataSource: db, schema, publish: async (row) => void (await publisher.publishStored(row)) });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.relay.start();
  }

  /** Before the database and NATS close, so the last batch finishes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.relay.stop();
  }
}

/**
 * Publishes a service's outbox (`<schema>.outbox`) to JetStream. Needs the global
 * `DataSource` (PersistenceModule) and `EventPublisher` (MessagingModule).
 */
@Module({})
export class OutboxRelayModule {
  static forRoot(options: { schema: string }): DynamicModule {
    return {
      module: OutboxRelayModule,
      providers: [{ provide: RELAY_SCHEMA, useValue: options.schema }, OutboxRelayLifecycle],
    };
  }
}
