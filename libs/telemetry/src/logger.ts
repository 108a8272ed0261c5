import { isSpanContextValid, trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/** trace_id / span_id of the active span, so a log line can be found from its trace and back. */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const ctx = span.spanContext();
  if (!isSpanContextValid(ctx)) return {};
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}

function rootLogger(destination?: DestinationStream): Logger {
  return pino(
    {
      level: process.env.LOG_LEVEL || 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"warn" rather than "level":40: readable without a pino-aware viewer.
      formatters: { level: (label) => ({ level: label }) },
      mixin: traceFields,
    },
    destination,
  );
}

let shared: Logger | undefined;

/**
 * A JSON logger writing to stdout. `service` is OTEL_SERVICE_NAME when set (the process),
 * else `name`; when both are set and differ, `name` is kept as `component`. All loggers of a
 * process share one destination. `destination` is for tests.
 */
export function createLogger(name: string, destination?: DestinationStream): Logger {
  const root = destination ? rootLogger(destination) : (shared ??= rootLogger());
  const service = process.env.OTEL_SERVICE_NAME || name;
  return root.child(service === name ? { service } : { service, component: name });
}
