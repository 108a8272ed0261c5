import { Inject, Injectable, Module, type BeforeApplicationShutdown, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { OutboxFastPath, OutboxRelay, type OutboxRow } from '@autoheal/persistence';
import { EventPublisher } from './event-publisher.js';
import { watchOutboxBacklog } from './outbox-backlog.js';

const RELAY_SCHEMA = Symbol('RELAY_SCHEMA');

/**
 * Publishes the service's outbox two ways: `transaction(work)` publishes what `work` appended as
 * soon as it commits (OutboxFastPath), and the relay publishes whatever that did not — rows of
 * plain `dataSource.transaction`s, and those of a fast publish that failed or never happened.
 */
@Injectable()
export class OutboxPublisher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly relay: OutboxRelay;
  private readonly fastPath: OutboxFastPath;
  private unwatchBacklog: (() => void) | undefined;

  constructor(
    private readonly db: DataSource,
    publisher: EventPublisher,
    @Inject(RELAY_SCHEMA) private readonly schema: string,
  ) {
    // publishStored sends Nats-Msg-Id = event id: whichever of the two publishes a row second, JetStream stores it once.
    const publish = async (row: OutboxRow) => void (await publisher.publishStored(row));
    this.relay = new OutboxRelay({ dataSource: db, schema, publish, inFlightElsewhere: () => this.fastPath.inFlight() });
    this.fastPath = new OutboxFastPath({ dataSource: db, schema, publish, relay: this.relay });
  }

  /**
   * `dataSource.transaction(work)`, and the events `work` appended to the outbox go to JetStream
   * right after the commit instead of through the relay. Resolves once committed.
   */
  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.fastPath.transaction(work);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.relay.start();
    // What waits here is what the relay has not published yet: `autoheal_outbox_pending_events`.
    this.unwatchBacklog = watchOutboxBacklog(this.db, this.schema);
  }

  /** Before the database and NATS close, so the last publishes, marks and relay batch finish. */
  async beforeApplicationShutdown(): Promise<void> {
    this.unwatchBacklog?.();
    await this.fastPath.settle();
    await this.relay.stop();
  }
}

/**
 * Publishes a service's outbox (`<schema>.outbox`) to JetStream and provides OutboxPublisher
 * to the whole application. Needs the global `DataSource` (PersistenceModule) and
 * `EventPublisher` (MessagingModule).
 */
@Module({})
export class OutboxRelayModule {
  static forRoot(options: { schema: string }): DynamicModule {
    return {
      module: OutboxRelayModule,
      global: true,
      providers: [{ provide: RELAY_SCHEMA, useValue: options.schema }, OutboxPublisher],
      exports: [OutboxPublisher],
    };
  }
}
