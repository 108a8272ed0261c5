import { propagation, trace } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { incomingTraceContext } from './trace-headers.js';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('incomingTraceContext', () => {
  beforeAll(() => {
    propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  });
  afterAll(() => propagation.disable());

  it('is undefined for a message without headers or without any trace field (an SDK heartbeat)', () => {
    expect(incomingTraceContext(undefined)).toBeUndefined();
    const h = natsHeaders();
    h.set('Nats-Msg-Id', 'abc');
    expect(incomingTraceContext(h)).toBeUndefined();
  });

  it('extracts the producer span context when traceparent is there', () => {
    const h = natsHeaders();
    h.set('Nats-Msg-Id', 'abc');
    h.set('traceparent', TRACEPARENT);
    const ctx = incomingTraceContext(h);
    expect(ctx && trace.getSpanContext(ctx)).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 });
  });

  it('keeps baggage that travels without a trace', () => {
    const h = natsHeaders();
    h.set('baggage', 'tenant=acme');
    const ctx = incomingTraceContext(h);
    expect(ctx && propagation.getBaggage(ctx)?.getEntry('tenant')?.value).toBe('acme');
  });
});
