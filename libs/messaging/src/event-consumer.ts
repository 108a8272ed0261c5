import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { parseEnvelope, STREAMS, subjectMismatch, type Envelope } from '@autoheal/contracts';
import { deadLetter } from './dead-letter.js';
import { dispositionOf, retryDelayMs } from './handler-errors.js';
import { JetStreamContext } from './jetstream-context.js';
import { DEFAULT_ACK_WAIT_MS, DEFAULT_MAX_DELIVER, provisionConsumer, type ConsumerSpec } from './stream-provisioning.js';
import { extractTraceContext } from './trace-headers.js';

const tracer = trace.getTracer('autoheal-messaging');
const decoder = new TextDecoder();

export type EventHandler = (event: Envelope, ctx: JetStreamContext) => Promise<void>;

export interface ConsumerLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface RunConsumerSpec extends ConsumerSpec {
  /** Messages handled at once. 1 (the default) keeps the stream's order. */
  concurrency?: number;
}

export interface RunningConsumer {
  readonly durable: string;
  stop(): Promise<void>;
}

export type MessageOutcome =
  | { kind: 'ack' }
  | { kind: 'nak'; delayMs: number; reason: string }
  | { kind: 'dead_letter'; reason: 'invalid_payload' | 'max_deliver_exceeded' | 'handler_rejected'; detail: string };

/** Decodes and validates a message: the JSON must be a valid envelope and belong on its subject. */
export function decodeEvent(subject: string, data: Uint8Array): { ok: true; event: Envelope } | { ok: false; detail: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch (error) {
    return { ok: false, detail: `payload is not JSON: ${(error as Error).message}` };
  }
  const parsed = parseEnvelope(raw);
  if (!parsed.ok) {
    const fields = parsed.error.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    return { ok: false, detail: `invalid envelope: ${fields}` };
  }
  const mismatch = subjectMismatch(subject, parsed.value);
  if (mismatch) return { ok: false, detail: mismatch };
  return { ok: true, event: parsed.value };
}

/** What to do with a message whose handler failed, given how often it was delivered. */
export function outcomeOfFailure(error: unknown, deliveryCount: number, maxDeliver: number): MessageOutcome {
  const d = dispositionOf(error);
  if (d.disposition === 'permanent') return { kind: 'dead_letter', reason: 'handler_rejected', detail: `${d.code}: ${d.message}` };
  if (deliveryCount >= maxDeliver) {
    return { kind: 'dead_letter', reason: 'max_deliver_exceeded', detail: `failed ${deliveryCount} deliveries; last error ${d.code}: ${d.message}` };
  }
  return { kind: 'nak', delayMs: retryDelayMs(deliveryCount), reason: `${d.code}: ${d.message}` };
}

/**
 * Runs one durable pull consumer: validates each message (invalid → dead letter), runs the
 * handler inside a consumer span that continues the producer's trace, then acks, naks with
 * backoff, or dead-letters. A message is never dropped: if even the dead-letter publish
 * fails, it is nak'ed and comes back.
 */
export async function startConsumer(
  nc: NatsConnection,
  spec: RunConsumerSpec,
  handler: EventHandler,
  options: { logger?: ConsumerLogger; jsm?: JetStreamManager } = {},
): Promise<RunningConsumer> {
  const jsm = options.jsm ?? (await jetstreamManager(nc));
  await provisionConsumer(jsm, spec);
  const js = jetstream(nc);
  const consumer = await js.consumers.get(STREAMS[spec.stream].name, spec.durable);
  const concurrency = Math.max(1, spec.concurrency ?? 1);
  const messages = await consumer.consume({ max_messages: Math.max(64, concurrency * 2) });
  const maxDeliver = spec.maxDeliver ?? DEFAULT_MAX_DELIVER;
  const keepAliveMs = Math.max(100, Math.floor((spec.ackWaitMs ?? DEFAULT_ACK_WAIT_MS) / 3));
  const inFlight = new Set<Promise<void>>();
  // While handlers work (an agent restarting a process can take seconds), tell the server so;
  // the ack wait can then stay short and a crashed consumer's messages come back fast. One
  // timer for the consumer, not one per message: most messages are done long before it fires.
  const working = new Set<JsMsg>();
  const keepAlive = setInterval(() => {
    for (const msg of working) msg.working();
  }, keepAliveMs);

  const loop = (async () => {
    for await (const msg of messages) {
      const work = handleMessage(js, msg, spec.durable, maxDeliver, working, handler, options.logger).finally(() => inFlight.delete(work));
      inFlight.add(work);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  })();

  return {
    durable: spec.durable,
    async stop() {
      await messages.close();
      await loop;
      clearInterval(keepAlive);
    },
  };
}

async function handleMessage(
  js: JetStreamClient,
  msg: JsMsg,
  durable: string,
  maxDeliver: number,
  working: Set<JsMsg>,
  handler: EventHandler,
  logger: ConsumerLogger | undefined,
): Promise<void> {
  const parent = extractTraceContext(msg.headers);
  const span = tracer.startSpan(
    `${msg.subject} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.destination.name': msg.subject,
        'messaging.consumer.group.name': durable,
        'messaging.message.delivery_count': msg.info.deliveryCount,
      },
    },
    parent,
  );
  const active = trace.setSpan(parent, span);
  let outcome: MessageOutcome;
  const decoded = decodeEvent(msg.subject, msg.data);
  if (!decoded.ok) {
    outcome = { kind: 'dead_letter', reason: 'invalid_payload', detail: decoded.detail };
  } else {
    span.setAttribute('messaging.message.id', decoded.event.id);
    working.add(msg);
    try {
      await context.with(active, () => handler(decoded.event, new JetStreamContext(msg, durable)));
      outcome = { kind: 'ack' };
    } catch (error) {
      outcome = outcomeOfFailure(error, msg.info.deliveryCount, maxDeliver);
    } finally {
      working.delete(msg);
    }
  }
  await context.with(active, () => settle(js, msg, outcome, logger));
  if (outcome.kind !== 'ack') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.kind === 'nak' ? outcome.reason : outcome.detail });
  span.setAttribute('autoheal.outcome', outcome.kind);
  span.end();
}

async function settle(js: JetStreamClient, msg: JsMsg, outcome: MessageOutcome, logger: ConsumerLogger | undefined): Promise<void> {
  switch (outcome.kind) {
    case 'ack':
      msg.ack();
      return;
    case 'nak':
      logger?.warn({ subject: msg.subject, deliveries: msg.info.deliveryCount, reason: outcome.reason, retryInMs: outcome.delayMs }, 'handler failed; will retry');
      msg.nak(outcome.delayMs);
      return;
    case 'dead_letter':
      try {
        await deadLetter(js, msg, outcome.reason, outcome.detail);
        logger?.warn({ subject: msg.subject, reason: outcome.reason, detail: outcome.detail }, 'message dead-lettered');
      } catch (error) {
        logger?.error({ subject: msg.subject, err: error }, 'dead-letter publish failed; message will be redelivered');
        msg.nak(retryDelayMs(msg.info.deliveryCount));
      }
      return;
    default: {
      const unreachable: never = outcome;
      throw new Error(`unhandled outcome ${JSON.stringify(unreachable)}`);
    }
  }
}
