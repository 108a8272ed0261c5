import { trace } from '@opentelemetry/api';

/** The tracer for spans our own code opens (instrumentations bring their own). */
export const tracer = trace.getTracer('autoheal');
