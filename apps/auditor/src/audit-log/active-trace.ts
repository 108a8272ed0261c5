import { isSpanContextValid, trace } from '@opentelemetry/api';

/** The trace id of the span under way, recorded with the row it caused (null outside a trace). */
export function activeTraceId(): string | null {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && isSpanContextValid(ctx) ? ctx.traceId : null;
}
