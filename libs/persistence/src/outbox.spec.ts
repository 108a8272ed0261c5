import { propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { newEvent, newEventId } from '@autoheal/contracts';
import { outboxBatch, tracedOutboxBatch } from './outbox.js';

function event() {
  return newEvent('incident.resolved', {
    tenantId: 'acme',
    producer: 'test',
    data: { incidentId: newEventId(), service: 'api', instance: 'x', kind: 'heartbeat_missed', resolvedAt: new Date().toISOString(), reason: 'test', durationMs: 1 },
  });
}

/** A context whose span is `spanId` of one trace, as a span started in it would carry. */
function contextOf(spanId: string) {
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId, traceFlags: 1 });
}

describe('outbox batches', () => {
  beforeAll(() => propagation.setGlobalPropagator(new W3CTraceContextPropagator()));
  afterAll(() => propagation.disable());

  it('gives each row the trace headers of its own event (a burst of changes to different incidents)', () => {
    const batch = tracedOutboxBatch([
      { event: event(), context: contextOf('00f067aa0ba902b7') },
      { event: event(), context: contextOf('00f067aa0ba902b8') },
    ]);
    expect(batch.rows.map((r) => r.headers.traceparent)).toEqual([
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01',
    ]);
    // The statement's parameters carry the same headers, row by row.
    expect(batch.params[3].map((h) => (JSON.parse(h) as Record<string, string>).traceparent)).toEqual(batch.rows.map((r) => r.headers.traceparent));
  });

  it('gives every row of a plain batch the trace of the given context', () => {
    const batch = outboxBatch([event(), event()], { context: contextOf('00f067aa0ba902b7') });
    expect(new Set(batch.params[3])).toEqual(new Set([JSON.stringify({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' })]));
    expect(batch.params[0]).toEqual(batch.rows.map((r) => r.id));
  });
});
