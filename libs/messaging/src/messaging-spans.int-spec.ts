import { jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { core } from '@opentelemetry/sdk-node';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { newEvent, newEventId, type Envelope } from '@autoheal/contracts';
import { createTestKeys, expectEventually, startNatsServer, type NatsServerHandle } from '@autoheal/testing';
import { closeNats, connectNats, EventPublisher, injectTraceContext, provisionStreams, SignedEventGuard, startConsumer, type RunningConsumer } from './index.js';

const keys = createTestKeys();
afterAll(() => keys.remove());

function planned(): Envelope<'remediation.planned'> {
  const incidentId = newEventId();
  return newEvent('remediation.planned', {
    tenantId: 'acme',
    producer: 'decision',
    correlationId: incidentId,
    data: { remediationId: newEventId(), incidentId, service: 'api', instance: 'api-1', action: 'restart', policyVersion: 'p1', reason: 'test', candidates: [] },
  });
}

describe('spans of a NATS hop follow the OpenTelemetry messaging conventions (real nats-server, in-memory exporter)', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let consumer: RunningConsumer | undefined;
  const handled: string[] = [];

  const spans = (): ReadableSpan[] => exporter.getFinishedSpans();

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
    server = await startNatsServer();
    nc = await connectNats({ servers: server.url, name: 'messaging-spans-test', onClosedForGood: () => undefined });
    await provisionStreams(nc);
    const guard = new SignedEventGuard({ trust: keys.trust, onRejected: () => Promise.resolve() });
    consumer = await startConsumer(nc, { stream: 'remediations', durable: 'spans-test', filterSubject: 'remediation.>' }, async (e) => void handled.push(e.id), { provenance: guard });
  });

  afterAll(async () => {
    await consumer?.stop();
    if (nc) await closeNats(nc);
    await server?.stop();
    await provider.shutdown();
    trace.disable();
    propagation.disable();
  });

  it('names publish and process spans by operation and subject template, with the messaging attributes, one parent of the other', async () => {
    const event = planned();
    const publisher = new EventPublisher(nc, { signer: keys.key('decision') });
    await publisher.publish(event);
    await expectEventually(() => {
      expect(handled).toContain(event.id);
      expect(spans().filter((s) => s.attributes['messaging.message.id'] === event.id)).toHaveLength(2);
    }, { timeoutMs: 20_000 });

    const ofEvent = spans().filter((s) => s.attributes['messaging.message.id'] === event.id);
    const producer = ofEvent.find((s) => s.kind === SpanKind.PRODUCER);
    const processed = ofEvent.find((s) => s.kind === SpanKind.CONSUMER);
    expect({ producer: producer?.name, consumer: processed?.name }).toEqual({ producer: 'publish remediation.{tenant}.planned', consumer: 'process remediation.{tenant}.planned' });
    const [host, port] = server.url.replace(/^nats:\/\//, '').split(':');
    expect(producer?.attributes).toEqual({
      'messaging.system': 'nats',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': 'remediation.acme.planned',
      'messaging.destination.template': 'remediation.{tenant}.planned',
      'messaging.message.id': event.id,
      'messaging.message.conversation_id': event.correlationId,
      'messaging.message.body.size': expect.any(Number) as number,
      'server.address': host,
      'server.port': Number(port),
      'autoheal.tenant.id': 'acme',
      'autoheal.event.type': 'remediation.planned',
      'autoheal.incident.id': event.correlationId,
    });
    expect(processed?.attributes).toEqual({
      'messaging.system': 'nats',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': 'remediation.acme.planned',
      'messaging.destination.template': 'remediation.{tenant}.planned',
      'messaging.destination.subscription.name': 'spans-test',
      'messaging.consumer.group.name': 'spans-test',
      'messaging.message.id': event.id,
      'messaging.message.conversation_id': event.correlationId,
      'messaging.message.body.size': producer?.attributes['messaging.message.body.size'],
      'messaging.nats.message.delivery_count': 1,
      'autoheal.tenant.id': 'acme',
      'autoheal.event.type': 'remediation.planned',
      'autoheal.incident.id': event.correlationId,
      'autoheal.outcome': 'ack',
    });
    // The hop continues the producer's trace: the consumer span is its child.
    expect(processed?.spanContext().traceId).toBe(producer?.spanContext().traceId);
    expect(processed?.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId);
  });

  it('marks a traced message that is refused: error status and error.type naming the dead-letter reason', async () => {
    // Not valid JSON, but traced: the consumer span records why it was dead-lettered.
    const parent = provider.getTracer('test').startSpan('sender');
    const h = injectTraceContext(natsHeaders(), trace.setSpan(ROOT_CONTEXT, parent));
    parent.end();
    await jetstream(nc).publish('remediation.acme.planned', new TextEncoder().encode('{not json'), { headers: h });
    await expectEventually(() => {
      expect(spans().filter((s) => s.kind === SpanKind.CONSUMER && s.parentSpanContext?.spanId === parent.spanContext().spanId)).toHaveLength(1);
    }, { timeoutMs: 20_000 });
    const refused = spans().find((s) => s.kind === SpanKind.CONSUMER && s.parentSpanContext?.spanId === parent.spanContext().spanId);
    expect(refused?.status.code).toBe(SpanStatusCode.ERROR);
    expect(refused?.attributes).toMatchObject({ 'error.type': 'invalid_payload', 'autoheal.outcome': 'dead_letter', 'messaging.destination.template': 'remediation.{tenant}.planned' });
  });
});
