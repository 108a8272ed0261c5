import { appendFileSync } from 'node:fs';
import { SpanKind, type Attributes, type HrTime } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { core } from '@opentelemetry/sdk-node';

/** One line of an AUTOHEAL_TRACE_FILE: a finished span, flattened. */
export interface TraceFileRecord {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  /** `service.name` of the process that ended the span. */
  service: string;
  kind: keyof typeof SpanKind;
  /** Milliseconds since the Unix epoch (fractional). */
  startTime: number;
  endTime: number;
  attributes: Attributes;
  /** Spans this one is linked to (traceId, spanId), e.g. a batch consumer's producers. */
  links: { traceId: string; spanId: string }[];
  status: { code: 'UNSET' | 'OK' | 'ERROR'; message?: string };
}

const KIND_NAMES = Object.fromEntries(Object.entries(SpanKind).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v, k])) as Record<
  number,
  keyof typeof SpanKind
>;
const STATUS_NAMES = ['UNSET', 'OK', 'ERROR'] as const;

function millis(time: HrTime): number {
  return core.hrTimeToMilliseconds(time);
}

export function toTraceFileRecord(span: ReadableSpan): TraceFileRecord {
  const ctx = span.spanContext();
  const service = span.resource.attributes['service.name'];
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? null,
    name: span.name,
    service: typeof service === 'string' ? service : 'unknown',
    kind: KIND_NAMES[span.kind] ?? 'INTERNAL',
    startTime: millis(span.startTime),
    endTime: millis(span.endTime),
    attributes: span.attributes,
    links: span.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
    status: { code: STATUS_NAMES[span.status.code] ?? 'UNSET', ...(span.status.message ? { message: span.status.message } : {}) },
  };
}

/**
 * Appends one JSON line per finished span to a file. Meant for end-to-end tests, which read
 * the file to prove that one incident produced one trace across the services. The write is
 * synchronous on purpose: a span that ended is on disk even if the process is killed next.
 * Several processes may append to the same file; each line is one write(2) of a few KB with
 * O_APPEND, so lines do not interleave.
 */
export class TraceFileSpanExporter implements SpanExporter {
  private stopped = false;

  constructor(private readonly path: string) {}

  export(spans: ReadableSpan[], resultCallback: (result: { code: number; error?: Error }) => void): void {
    if (this.stopped) return resultCallback({ code: core.ExportResultCode.FAILED, error: new Error('exporter is shut down') });
    try {
      const lines = spans.map((s) => JSON.stringify(toTraceFileRecord(s)) + '\n').join('');
      if (lines) appendFileSync(this.path, lines);
      resultCallback({ code: core.ExportResultCode.SUCCESS });
    } catch (error) {
      resultCallback({ code: core.ExportResultCode.FAILED, error: error as Error });
    }
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
  }

  async forceFlush(): Promise<void> {
    // Nothing is buffered.
  }
}
