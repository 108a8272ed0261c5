import { context, propagation, type Context } from '@opentelemetry/api';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';

/** Copies the W3C trace context of `ctx` (default: the active one) into NATS headers. */
export function injectTraceContext(target: MsgHdrs, ctx: Context = context.active()): MsgHdrs {
  propagation.inject(ctx, target, {
    set: (carrier, key, value) => carrier.set(key, value),
  });
  return target;
}

/** The trace context a producer put in the headers, or the root context when there is none. */
export function extractTraceContext(source: MsgHdrs | undefined): Context {
  if (!source) return context.active();
  return propagation.extract(context.active(), source, {
    get: (carrier, key) => carrier.get(key) || undefined,
    keys: (carrier) => carrier.keys(),
  });
}

/**
 * The trace context a producer put in the headers, or undefined when the headers carry none
 * of the fields the configured propagators read (`traceparent`, `tracestate`, `baggage` with
 * ours). Lets a consumer skip extraction and its span for untraced messages (our SDK's
 * heartbeats), which are most of what a detector reads. Keys match exactly, as the getter of
 * `extractTraceContext` does, so a message found traced here is extracted the same way.
 */
export function incomingTraceContext(source: MsgHdrs | undefined): Context | undefined {
  if (!source) return undefined;
  const fields = propagation.fields();
  for (let i = 0; i < fields.length; i++) {
    if (source.has(fields[i])) return extractTraceContext(source);
  }
  return undefined;
}

/** A trace context stored as plain strings (outbox rows) turned back into a Context. */
export function contextFromCarrier(carrier: Record<string, string>): Context {
  return propagation.extract(context.active(), carrier);
}

export function headersFromRecord(record: Record<string, string>): MsgHdrs {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(record)) h.set(k, v);
  return h;
}

export function headersToRecord(h: MsgHdrs | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!h) return out;
  for (const key of h.keys()) out[key] = h.values(key);
  return out;
}
