import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { context, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import { MAX_EVENT_NESTING, nestsDeeperThan, parseEnvelope, STREAMS, subjectMismatch, type DeadLetterReason, type Envelope } from '@autoheal/contracts';
import { deadLetter } from './dead-letter.js';
import { SIGNED_STREAMS, type ProvenanceGuard, type ProvenanceRejection } from './event-provenance.js';
import { dispositionOf, retryDelayMs } from './handler-errors.js';
import { JetStreamContext } from './jetstream-context.js';
import { DEFAULT_ACK_WAIT_MS, DEFAULT_MAX_DELIVER, provisionConsumer, type ConsumerSpec } from './stream-provisioning.js';
import { ATTR_OUTCOME, eventAttributes, processSpan } from './messaging-spans.js';
import { incomingTraceContext } from './trace-headers.js';

const tracer = trace.getTracer('autoheal-messaging');
const decoder = new TextDecoder();

/** Handles one event; may return nothing when it finished synchronously (no promise to wait for). */
export type EventHandler = (event: Envelope, ctx: JetStreamContext) => Promise<void> | undefined;

export interface ConsumerLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface RunConsumerSpec extends ConsumerSpec {
  /** Messages handled at once. 1 (the default) keeps the stream's order. */
  concurrency?: number;
  /**
   * Which subjects this process handles. A message whose subject it refuses is acknowledged at
   * once, unread: no decoding, validation, span or handler (a detector skipping the health
   * events of partitions another member owns). Called once per message, so keep it cheap.
   */
  accept?: (subject: string) => boolean;
  /**
   * The `@EventPattern` the Nest transport binds this consumer to; defaults to `durable`. Lets the
   * durable name vary per process (`detector-health-<member>`) while the handler keeps one pattern.
   * Also the consumer token of the dead letters' subject, so those processes share one per tenant.
   */
  pattern?: string;
  /**
   * Messages pulled from the server at a time (default 64, at least twice the concurrency). A
   * consumer of many cheap messages pulls more so it never waits on the server; every message
   * pulled must still be handled within the ack wait.
   */
  pullBatch?: number;
}

export interface RunningConsumer {
  readonly durable: string;
  stop(): Promise<void>;
}

export type MessageOutcome =
  | { kind: 'ack' }
  | { kind: 'nak'; delayMs: number; reason: string }
  | { kind: 'dead_letter'; reason: DeadLetterReason; detail: string }
  /** Provenance refused: the refusal is recorded (guard.onRejected), then the message is dead-lettered. */
  | { kind: 'reject'; rejection: ProvenanceRejection };

/** Decodes and validates a message: the JSON must be a valid envelope and belong on its subject. */
export function decodeEvent(subject: string, data: Uint8Array): { ok: true; event: Envelope } | { ok: false; detail: string } {
  let raw: unknown;
  const text = decoder.decode(data);
  // Before parsing: a valid envelope nested thousands deep would pass the schema (evidence and
  // payloads are open) and then fail every store it reaches, retried as if the store were down.
  if (nestsDeeperThan(text, MAX_EVENT_NESTING)) return { ok: false, detail: `payload nests deeper than ${MAX_EVENT_NESTING} levels` };
  try {
    raw = JSON.parse(text);
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
  if (d.disposition === 'permanent') {
    // Refused by the database for its content: the same on every delivery.
    if (d.sqlState !== undefined) return { kind: 'dead_letter', reason: d.reason ?? 'store_rejected', detail: `${d.code} (SQLSTATE ${d.sqlState}): ${d.message}` };
    return { kind: 'dead_letter', reason: d.reason ?? 'handler_rejected', detail: `${d.code}: ${d.message}` };
  }
  if (deliveryCount >= maxDeliver) {
    return { kind: 'dead_letter', reason: 'max_deliver_exceeded', detail: `failed ${deliveryCount} deliveries; last error ${d.code}: ${d.message}` };
  }
  return { kind: 'nak', delayMs: retryDelayMs(deliveryCount), reason: `${d.code}: ${d.message}` };
}

/**
 * Acks of handled messages, handed to the connection together at the end of the event-loop
 * turn in which their handlers finished. nats.js writes its outbound buffer to the socket once
 * per microtask checkpoint, and a consumer awaits each handler, so one `msg.ack()` at a time
 * cost one socket write per message — the largest single cost of a cheap handler. An ack is
 * still sent only after its handler completed, per message, at most one turn later (well
 * inside any ack wait); a process that dies in between has the message redelivered, as it
 * would if it died just before acking. Naks and terms are not batched: they are rare.
 */
export interface AckBatch {
  add(msg: JsMsg): void;
  /** Sends what is pending now (at most MAX_ACKS_PER_WRITE wait; and when the consumer stops). */
  flush(): void;
}

/** Bounds the acks held back, so a long run of synchronous handlers still acks as it goes. */
export const MAX_ACKS_PER_WRITE = 256;

export function ackBatch(logger: ConsumerLogger | undefined): AckBatch {
  let pending: JsMsg[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  const flush = (): void => {
    if (scheduled !== undefined) clearImmediate(scheduled);
    scheduled = undefined;
    const batch = pending;
    pending = [];
    for (const msg of batch) {
      try {
        msg.ack();
      } catch (error) {
        // The connection is closing: the server redelivers after the ack wait.
        logger?.error({ subject: msg.subject, err: error }, 'ack failed; message will be redelivered');
      }
    }
  };
  return {
    add(msg) {
      pending.push(msg);
      if (pending.length >= MAX_ACKS_PER_WRITE) flush();
      else if (scheduled === undefined) scheduled = setImmediate(flush);
    },
    flush,
  };
}

/**
 * The longest run of synchronous handlers before the consumer lets timers and I/O callbacks
 * run. A pulled batch sits in the iterator's queue, so the loop takes message after message in
 * microtasks and nothing else in the process gets the event loop until the queue is empty:
 * a batch of 512 heartbeats held a detector's deadline timer, and every commit waiting on a
 * Postgres reply, behind ~15 ms of handling.
 */
export const MAX_SYNC_SLICE_MS = 2;

/** A turn of the event loop: due timers and waiting I/O callbacks run before the consumer goes on. */
const yieldToEventLoop = () => new Promise<void>((resume) => setImmediate(resume));

/** What every message of one consumer shares, built once when it starts. */
interface ConsumerRun {
  js: JetStreamClient;
  durable: string;
  /** The consumer token of its dead letters' subject: the pattern its processes share, else the durable. */
  deadLetterAs: string;
  maxDeliver: number;
  accept: ((subject: string) => boolean) | undefined;
  /** Messages whose handler runs now; the keep-alive timer marks them in progress. */
  working: Set<JsMsg>;
  acks: AckBatch;
  handler: EventHandler;
  logger: ConsumerLogger | undefined;
  /** Set for consumers of signed streams: no handler runs for an event it refuses. */
  provenance: ProvenanceGuard | undefined;
}

/**
 * Runs one durable pull consumer: validates each message (invalid → dead letter), runs the
 * handler — inside a consumer span that continues the producer's trace when the message
 * carries one — then acks, naks with backoff, or dead-letters. A message is never dropped: if
 * even the dead-letter publish fails, it is nak'ed and comes back.
 */
export async function startConsumer(
  nc: NatsConnection,
  spec: RunConsumerSpec,
  handler: EventHandler,
  options: { logger?: ConsumerLogger; jsm?: JetStreamManager; provenance?: ProvenanceGuard } = {},
): Promise<RunningConsumer> {
  // Every consumer of control events checks signatures; forgetting to wire it must not be possible.
  if (SIGNED_STREAMS.has(spec.stream) && options.provenance === undefined) {
    throw new Error(`consumer ${spec.durable} reads the signed stream ${STREAMS[spec.stream].name} but was given no provenance guard`);
  }
  const jsm = options.jsm ?? (await jetstreamManager(nc));
  await provisionConsumer(jsm, spec);
  const js = jetstream(nc);
  const consumer = await js.consumers.get(STREAMS[spec.stream].name, spec.durable);
  const concurrency = Math.max(1, spec.concurrency ?? 1);
  const messages = await consumer.consume({ max_messages: Math.max(spec.pullBatch ?? 64, concurrency * 2) });
  const keepAliveMs = Math.max(100, Math.floor((spec.ackWaitMs ?? DEFAULT_ACK_WAIT_MS) / 3));
  const run: ConsumerRun = {
    js,
    durable: spec.durable,
    deadLetterAs: spec.pattern ?? spec.durable,
    maxDeliver: spec.maxDeliver ?? DEFAULT_MAX_DELIVER,
    accept: spec.accept,
    working: new Set<JsMsg>(),
    acks: ackBatch(options.logger),
    handler,
    logger: options.logger,
    provenance: SIGNED_STREAMS.has(spec.stream) ? options.provenance : undefined,
  };
  // While handlers work (an agent restarting a process can take seconds), tell the server so;
  // the ack wait can then stay short and a crashed consumer's messages come back fast. One
  // timer for the consumer, not one per message: most messages are done long before it fires.
  const keepAlive = setInterval(() => {
    for (const msg of run.working) msg.working();
  }, keepAliveMs);

  const loop = (async () => {
    let sliceStart = performance.now();
    // Measured from the last yield (or awaited handler): an idle wait for messages in between
    // only makes the next slice end early, one spare turn of the loop.
    const sliceOver = () => performance.now() - sliceStart >= MAX_SYNC_SLICE_MS;
    try {
      if (concurrency === 1) {
        for await (const msg of messages) {
          const pending = handleMessage(run, msg);
          if (pending !== undefined) await pending;
          else if (sliceOver()) await yieldToEventLoop();
          else continue;
          sliceStart = performance.now();
        }
        return;
      }
      const inFlight = new Set<Promise<void>>();
      for await (const msg of messages) {
        const pending = handleMessage(run, msg);
        if (pending === undefined) {
          if (sliceOver()) {
            await yieldToEventLoop();
            sliceStart = performance.now();
          }
          continue;
        }
        const work = pending.finally(() => inFlight.delete(work));
        inFlight.add(work);
        if (inFlight.size >= concurrency) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    } finally {
      run.acks.flush();
    }
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

/**
 * Handles one message; returns a promise only when there is something to wait for (a handler
 * that returned one, a failure to settle). A handler that finishes synchronously costs no
 * promise here: at tens of thousands of messages a second each one counts, the more so as the
 * tracing context's async hooks run for every promise created.
 */
function handleMessage(run: ConsumerRun, msg: JsMsg): Promise<void> | undefined {
  const subject = msg.subject;
  if (run.accept !== undefined && !run.accept(subject)) {
    run.acks.add(msg);
    return undefined;
  }
  // A message that carries no trace context (an SDK heartbeat) gets no span while it is
  // handled: for the detector that was one lone root span per heartbeat, exported for nothing.
  // Work it causes that crosses a service boundary starts its own trace (an incident does),
  // and if it fails, a span is recorded afterwards (below) so failures stay visible.
  const parent = incomingTraceContext(msg.headers);
  let span: Span | undefined;
  let active: Context | undefined;
  let startedAt = 0;
  if (parent === undefined) startedAt = Date.now();
  else {
    span = startConsumerSpan(subject, run.durable, msg, parent);
    active = trace.setSpan(parent, span);
  }
  const handled: Handled = { msg, span, active, startedAt };
  const decoded = decodeEvent(subject, msg.data);
  if (!decoded.ok) return finish(run, handled, { kind: 'dead_letter', reason: 'invalid_payload', detail: decoded.detail });
  span?.setAttributes(eventAttributes(decoded.event));
  if (run.provenance !== undefined) {
    const rejection = run.provenance.check(msg, decoded.event, run.durable);
    if (rejection !== null) return finish(run, handled, { kind: 'reject', rejection });
  }
  let pending: Promise<void> | undefined;
  try {
    const ctx = new JetStreamContext(msg, run.durable);
    pending = active === undefined ? run.handler(decoded.event, ctx) : context.with(active, () => run.handler(decoded.event, ctx));
  } catch (error) {
    return finish(run, handled, outcomeOfFailure(error, msg.info.deliveryCount, run.maxDeliver));
  }
  if (pending === undefined) return finish(run, handled, ACK);
  // Only now can the keep-alive timer fire while this message is being handled.
  run.working.add(msg);
  return pending.then(
    () => {
      run.working.delete(msg);
      return finish(run, handled, ACK);
    },
    (error: unknown) => {
      run.working.delete(msg);
      return finish(run, handled, outcomeOfFailure(error, msg.info.deliveryCount, run.maxDeliver));
    },
  );
}

const ACK: MessageOutcome = { kind: 'ack' };

/** One message on its way through handleMessage, with its span when it has one. */
interface Handled {
  msg: JsMsg;
  span: Span | undefined;
  active: Context | undefined;
  /** When handling began, for a span recorded only after a failure. */
  startedAt: number;
}

/** Acks (batched) or settles a failure: the latter, with its span, is the only part that waits. */
function finish(run: ConsumerRun, { msg, span, active, startedAt }: Handled, outcome: MessageOutcome): Promise<void> | undefined {
  if (outcome.kind === 'ack') {
    run.acks.add(msg);
    span?.setAttribute(ATTR_OUTCOME, outcome.kind);
    span?.end();
    return undefined;
  }
  const failed = span ?? startConsumerSpan(msg.subject, run.durable, msg, context.active(), startedAt);
  return context
    .with(active ?? trace.setSpan(context.active(), failed), () => settle(run, msg, outcome))
    .finally(() => {
      failed.setStatus({ code: SpanStatusCode.ERROR, message: failureMessage(outcome) });
      failed.setAttributes({ [ATTR_OUTCOME]: outcome.kind, [ATTR_ERROR_TYPE]: errorType(outcome) });
      failed.end();
    });
}

function startConsumerSpan(subject: string, durable: string, msg: JsMsg, parent: Context, startTime?: number): Span {
  const { name, options } = processSpan(subject, durable, msg.info.deliveryCount, msg.data.byteLength);
  return tracer.startSpan(name, { ...options, startTime }, parent);
}

/** `error.type` of a failed message: the dead-letter reason, the refusal's, or `nak` (retried). */
function errorType(outcome: Exclude<MessageOutcome, { kind: 'ack' }>): string {
  switch (outcome.kind) {
    case 'nak':
      return 'nak';
    case 'dead_letter':
      return outcome.reason;
    case 'reject':
      return `provenance_${outcome.rejection.data.reason}`;
    default: {
      const unreachable: never = outcome;
      throw new Error(`unhandled outcome ${JSON.stringify(unreachable)}`);
    }
  }
}

function failureMessage(outcome: Exclude<MessageOutcome, { kind: 'ack' }>): string {
  switch (outcome.kind) {
    case 'nak':
      return outcome.reason;
    case 'dead_letter':
      return outcome.detail;
    case 'reject':
      return `${outcome.rejection.data.reason}: ${outcome.rejection.data.detail}`;
    default: {
      const unreachable: never = outcome;
      throw new Error(`unhandled outcome ${JSON.stringify(unreachable)}`);
    }
  }
}

/** What happens to a message whose handler failed or that was invalid; acks go through the AckBatch. */
async function settle(run: ConsumerRun, msg: JsMsg, outcome: Exclude<MessageOutcome, { kind: 'ack' }>): Promise<void> {
  const { js, logger } = run;
  switch (outcome.kind) {
    case 'nak':
      logger?.warn({ subject: msg.subject, deliveries: msg.info.deliveryCount, reason: outcome.reason, retryInMs: outcome.delayMs }, 'handler failed; will retry');
      msg.nak(outcome.delayMs);
      return;
    case 'dead_letter':
      try {
        const stored = await deadLetter(js, msg, outcome.reason, outcome.detail, { consumer: run.deadLetterAs });
        // Over its tenant's budget the copy is counted, not stored (see publishDeadLetter), and not logged one by one.
        if (stored === 'stored') logger?.warn({ subject: msg.subject, reason: outcome.reason, detail: outcome.detail }, 'message dead-lettered');
      } catch (error) {
        logger?.error({ subject: msg.subject, err: error }, 'dead-letter publish failed; message will be redelivered');
        msg.nak(retryDelayMs(msg.info.deliveryCount));
      }
      return;
    case 'reject': {
      const { data } = outcome.rejection;
      try {
        await run.provenance?.onRejected(outcome.rejection);
      } catch (error) {
        if (msg.info.deliveryCount < run.maxDeliver) {
          logger?.error({ subject: msg.subject, err: error }, 'could not record a refused event; it will be judged again');
          msg.nak(retryDelayMs(msg.info.deliveryCount));
          return;
        }
        // Out of deliveries: dead-letter it anyway (refused, never handled), the record is in the dead letter.
        logger?.error({ subject: msg.subject, err: error }, 'could not record a refused event; dead-lettering it without');
      }
      logger?.warn({ subject: msg.subject, reason: data.reason, detail: data.detail, eventId: data.eventId, keyId: data.keyId }, 'control event refused: provenance');
      await settle(run, msg, { kind: 'dead_letter', reason: 'provenance_rejected', detail: `${data.reason}: ${data.detail}` });
      return;
    }
    default: {
      const unreachable: never = outcome;
      throw new Error(`unhandled outcome ${JSON.stringify(unreachable)}`);
    }
  }
}
