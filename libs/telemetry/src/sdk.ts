import { diag, DiagConsoleLogger, DiagLogLevel } from '@opentelemetry/api';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { NestInstrumentation } from '@opentelemetry/instrumentation-nestjs-core';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { hostname } from 'node:os';
import { defaultResource, envDetector, processDetector, resourceFromAttributes, serviceInstanceIdDetector } from '@opentelemetry/resources';
import { core, NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, NoopSpanProcessor, SimpleSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { nameDatabaseSpan } from './database-spans.js';
import { TraceFileSpanExporter } from './trace-file.exporter.js';

/** Read: OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT, AUTOHEAL_TRACE_FILE. */
export type TelemetryEnv = Record<string, string | undefined>;

export type SpanProcessorPlan = { kind: 'otlp'; endpoint: string } | { kind: 'trace-file'; path: string } | { kind: 'none' };

/** Where finished spans go, decided from the environment alone. */
export function spanProcessorPlan(env: TelemetryEnv): SpanProcessorPlan[] {
  const plan: SpanProcessorPlan[] = [];
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) plan.push({ kind: 'otlp', endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT });
  if (env.AUTOHEAL_TRACE_FILE) plan.push({ kind: 'trace-file', path: env.AUTOHEAL_TRACE_FILE });
  // Without a processor the SDK would register no tracer provider, and every span would be a
  // no-op with an all-zero trace id: logs could not be correlated. So spans are still created.
  if (plan.length === 0) plan.push({ kind: 'none' });
  return plan;
}

function buildProcessor(plan: SpanProcessorPlan): SpanProcessor {
  switch (plan.kind) {
    case 'otlp':
      // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT itself and appends /v1/traces.
      return new BatchSpanProcessor(new OTLPTraceExporter());
    case 'trace-file':
      return new SimpleSpanProcessor(new TraceFileSpanExporter(plan.path));
    case 'none':
      return new NoopSpanProcessor();
    default: {
      const unreachable: never = plan;
      throw new Error(`unknown span processor plan ${JSON.stringify(unreachable)}`);
    }
  }
}

export function createSdk(env: TelemetryEnv = process.env): NodeSDK {
  if (process.env.OTEL_LOG_LEVEL === undefined) diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);
  return new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME || undefined,
    // Only detectors that answer synchronously: the host detector reads the machine id
    // asynchronously, and until it has, every span's export waits — a span that ended just
    // before a crash or a quick SIGTERM would never reach the trace file.
    resource: defaultResource().merge(resourceFromAttributes({ 'host.name': hostname() })),
    resourceDetectors: [envDetector, processDetector, serviceInstanceIdDetector],
    spanProcessors: spanProcessorPlan(env).map(buildProcessor),
    // Metrics are served by prom-client at /metrics and logs go to stdout as JSON; without
    // these empty lists the SDK would start OTLP metric and log exporters of its own.
    metricReaders: [],
    logRecordProcessors: [],
    textMapPropagator: new core.CompositePropagator({
      propagators: [new core.W3CTraceContextPropagator(), new core.W3CBaggagePropagator()],
    }),
    instrumentations: [
      new HttpInstrumentation({
        // Scrapes and probes would otherwise start a trace each, drowning the interesting ones.
        ignoreIncomingRequestHook: (req) => req.url === '/metrics' || req.url === '/health' || req.url === '/health/live' || req.url === '/health/ready',
      }),
      new ExpressInstrumentation(),
      new NestInstrumentation(),
      // Span names as the database conventions give them (`SELECT autoheal`), not `pg.query:SELECT autoheal`.
      new PgInstrumentation({ requestHook: (span, info) => nameDatabaseSpan(span, info.query, info.connection.database) }),
    ],
  });
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** The part of `process` signal handling uses; a fake in tests. */
export interface SignalTarget {
  readonly pid: number;
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  removeListener(signal: NodeJS.Signals, listener: () => void): unknown;
  listeners(signal: NodeJS.Signals): unknown[];
  kill(pid: number, signal: NodeJS.Signals): unknown;
}

/**
 * Flushes spans when the process is asked to stop, without changing how it stops.
 *
 * A listener for SIGTERM replaces Node's default action (exit), so this must hand the
 * signal back. When the application has listeners of its own (Nest's shutdown hooks), they
 * run the shutdown; we only flush. Nest removes its listeners and raises the signal again
 * once it has closed; we are then the last listener, so we flush and shut the SDK down
 * (covering the spans of the shutdown itself), remove ourselves and raise the signal once
 * more, and the default action ends the process with the signal as its cause.
 *
 * SimpleSpanProcessor.shutdown() stops its exporter without waiting for pending exports, so
 * the last path flushes before it shuts down. Returns a function that uninstalls the listeners.
 */
export function flushOnSignals(
  sdk: Pick<NodeSDK, 'shutdown'>,
  flush: () => Promise<void>,
  options: { timeoutMs?: number; target?: SignalTarget } = {},
): () => void {
  const target = options.target ?? process;
  const timeoutMs = options.timeoutMs ?? 3_000;
  const withTimeout = (p: Promise<void>) =>
    Promise.race([p.catch(() => undefined), new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref())]);

  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of SIGNALS) {
    const handler = (): void => {
      const othersListen = target.listeners(signal).some((l) => l !== handler);
      if (othersListen) {
        void withTimeout(flush());
        return;
      }
      void withTimeout(flush().then(() => sdk.shutdown())).then(() => {
        target.removeListener(signal, handler);
        target.kill(target.pid, signal);
      });
    };
    handlers.set(signal, handler);
    target.on(signal, handler);
  }
  return () => {
    for (const [signal, handler] of handlers) target.removeListener(signal, handler);
  };
}
