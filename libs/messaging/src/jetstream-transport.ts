import type { NatsConnection } from '@nats-io/transport-node';
import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import { isObservable, lastValueFrom } from 'rxjs';
import { jetstreamManager } from '@nats-io/jetstream';
import { startConsumer, type ConsumerLogger, type EventHandler, type RunConsumerSpec, type RunningConsumer } from './event-consumer.js';
import type { ProvenanceGuard } from './event-provenance.js';

export interface TransportConsumerSpec extends RunConsumerSpec {
  /**
   * Binds the consumer to this handler directly instead of to an `@EventPattern` through Nest's
   * RPC dispatch, whose guards, pipes, interceptors and exception filters then do not apply.
   * Nest's dispatch creates about ten promises per message; for the detector's health events,
   * tens of thousands a second that use none of those features, that was a tenth of its time.
   */
  direct?: EventHandler;
}

export interface JetStreamTransportOptions {
  connection: NatsConnection;
  consumers: TransportConsumerSpec[];
  logger?: ConsumerLogger;
  /** Required when a consumer reads a signed stream (incidents, remediations, compliance, security). */
  provenance?: ProvenanceGuard;
}

/**
 * NestJS has no JetStream transport; this one binds each durable pull consumer to the
 * handler decorated `@EventPattern('<pattern>')`, where the pattern is the spec's `pattern`
 * or else its durable name (or to the spec's `direct` handler). Everything about delivery
 * (validation, spans, ack/nak/dead-letter) lives in `startConsumer`; this class only wires it
 * to Nest.
 */
export class JetStreamTransport extends Server implements CustomTransportStrategy {
  private running: RunningConsumer[] = [];

  constructor(private readonly options: JetStreamTransportOptions) {
    super();
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      const jsm = await jetstreamManager(this.options.connection);
      for (const { direct, ...spec } of this.options.consumers) {
        const consumer = await startConsumer(this.options.connection, spec, direct ?? this.nestHandler(spec), { logger: this.options.logger, jsm, provenance: this.options.provenance });
        this.running.push(consumer);
      }
      callback();
    } catch (error) {
      callback(error);
    }
  }

  /** The `@EventPattern` handler of the consumer, through Nest's dispatch. */
  private nestHandler(spec: RunConsumerSpec): EventHandler {
    const pattern = spec.pattern ?? spec.durable;
    const handler = this.getHandlerByPattern(pattern);
    if (!handler) throw new Error(`no @EventPattern('${pattern}') handler is registered for consumer ${spec.durable}`);
    return async (event, ctx) => {
      const result: unknown = await handler(event, ctx);
      if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
    };
  }

  async close(): Promise<void> {
    const running = this.running;
    this.running = [];
    await Promise.all(running.map((c) => c.stop()));
  }

  on(): never {
    throw new Error('JetStreamTransport has no status events');
  }

  unwrap<T>(): T {
    return this.options.connection as T;
  }
}
