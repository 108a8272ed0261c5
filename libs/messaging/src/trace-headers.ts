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
