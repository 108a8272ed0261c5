import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern, Payload } from '@nestjs/microservices';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { newEvent, STREAMS, type Envelope } from '@autoheal/contracts';
import { expectEventually, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import { closeNats, connectNats, EventPublisher, JetStreamTransport, provisionStreams, type TransportConsumerSpec } from './index.js';

const received: Envelope[] = [];

@Controller()
class ThingsHandler {
  @EventPattern('things')
  onThing(@Payload() event: Envelope): void {
    received.push(event);
  }
}

@Module({ controllers: [ThingsHandler] })
class ThingsModule {}

describe('JetStreamTransport (real nats-server)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let app: INestMicroservice | undefined;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connectNats({ servers: server.url, name: 'transport-test', onClosedForGood: () => undefined });
    await provisionStreams(nc);
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  afterAll(async () => {
    await closeNats(nc);
    await server.stop();
  });

  function microservice(spec: TransportConsumerSpec): Promise<INestMicroservice> {
    return NestFactory.createMicroservice(ThingsModule, { strategy: new JetStreamTransport({ connection: nc, consumers: [spec] }), logger: false });
  }

  it('binds a durable whose name varies per process to the handler of its pattern', async () => {
    app = await microservice({ stream: 'health', durable: 'things-member-1', pattern: 'things', filterSubject: 'health.acme.api.i-thing' });
    await app.listen();
    const event = newEvent('health.heartbeat', { tenantId: 'acme', producer: 'test', data: { service: 'api', instance: 'i-thing', intervalMs: 1000, sequence: 1 } });
    await new EventPublisher(nc).publish(event);
    await expectEventually(() => expect(received.map((e) => e.id)).toEqual([event.id]));
  });

  it('without a pattern, looks the handler up by the durable name and refuses to start when there is none', async () => {
    app = await microservice({ stream: 'health', durable: 'things-member-2', filterSubject: 'health.acme.api.i-other' });
    await expect(app.listen()).rejects.toThrow("no @EventPattern('things-member-2') handler is registered for consumer things-member-2");
  });

  it('binds a consumer with a direct handler to that handler, with no @EventPattern needed, and acks what it finished synchronously', async () => {
    const direct: { id: string; subject: string }[] = [];
    app = await microservice({
      stream: 'health',
      durable: 'things-direct',
      filterSubject: 'health.acme.api.i-direct',
      direct: (event, ctx) => {
        direct.push({ id: event.id, subject: ctx.subject });
        return undefined;
      },
    });
    await app.listen();
    const event = newEvent('health.heartbeat', { tenantId: 'acme', producer: 'test', data: { service: 'api', instance: 'i-direct', intervalMs: 1000, sequence: 1 } });
    await new EventPublisher(nc).publish(event);
    await expectEventually(() => expect(direct).toEqual([{ id: event.id, subject: 'health.acme.api.i-direct' }]));
    expect(received.map((e) => e.id)).not.toContain(event.id);
    const jsm = await jetstreamManager(nc);
    await expectEventually(async () => {
      const info = await jsm.consumers.info(STREAMS.health.name, 'things-direct');
      expect(info.num_ack_pending + info.num_pending).toBe(0);
    });
  });
});
