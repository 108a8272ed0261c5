import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { context, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import { deduplicationKey, healthDeduplicationKey, newHealthDeduplicationSecret, subjectFor, subjectTenant, type Envelope } from '@autoheal/contracts';
import { derivedSecret, isControlSubject, KEY_ID_HEADER, signEventPayload, SIGNATURE_HEADER, type SigningKey } from '@autoheal/security';
import { publishSpan, type CarriedEvent } from './messaging-spans.js';
import { contextFromCarrier, injectTraceContext } from './trace-headers.js';

const tracer = trace.getTracer('autoheal-messaging');
const encoder = new TextEncoder();

/** An event as the outbox stores it: already serialised, with the trace context of the code that caused it. */
export interface StoredEvent {
  id: string;
  subject: string;
  payload: unknown;
  headers: Record<string, string>;
}

export interface PublishAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

export interface EventPublisherOptions {
  /**
   * The service's signing key. Every control event (`incident.*`, `remediation.*`,
   * `compliance.*`, `security.*`) is signed with it over the exact payload bytes published;
   * a publisher without one refuses to publish control events. Health events are not signed.
   */
  signer?: SigningKey;
  /**
   * The secret health events' `Nats-Msg-Id` is derived with (see healthDeduplicationKey).
   * Default: derived from `signer`, so every replica of a service gives a retried event the same
   * key; without a signer, a random one of this publisher's own.
   */
  healthDeduplicationSecret?: Uint8Array;
}

/**
 * Publishes envelopes to JetStream with a `Nats-Msg-Id` that makes a retried publish stored once —
 * `<tenant>:<event id>` on the streams only services write, a key only this publisher (and its
 * replicas) can compute on HEALTH, which every tenant's producers write too (see
 * healthDeduplicationKey) — a producer span whose context travels in the headers, and — for control events —
 * the producer's Ed25519 signature and key id in the headers (`Autoheal-Signature`, `Autoheal-Key-Id`).
 */
export class EventPublisher {
  private readonly nc: NatsConnection;
  private readonly js: JetStreamClient;
  private readonly signer: SigningKey | undefined;
  private readonly healthSecret: Uint8Array;

  constructor(nc: NatsConnection, options: EventPublisherOptions = {}) {
    this.nc = nc;
    this.js = jetstream(nc);
    this.signer = options.signer;
    this.healthSecret =
      options.healthDeduplicationSecret ?? (options.signer ? derivedSecret(options.signer, 'health deduplication keys') : newHealthDeduplicationSecret());
  }

  /** Publishes now, as a child of the active span. */
  publish(event: Envelope): Promise<PublishAck> {
    return this.send(event.id, subjectFor(event), event, context.active());
  }

  /** Publishes an outbox row, as a child of the span that wrote it. */
  publishStored(row: StoredEvent): Promise<PublishAck> {
    return this.send(row.id, row.subject, row.payload, contextFromCarrier(row.headers ?? {}));
  }

  private async send(id: string, subject: string, payload: unknown, parent: Context): Promise<PublishAck> {
    const bytes = encoder.encode(JSON.stringify(payload));
    const { name, options } = publishSpan(this.nc, subject, bytes.byteLength, { ...carried(payload), id });
    const span = tracer.startSpan(name, options, parent);
    try {
      const h = injectTraceContext(natsHeaders(), trace.setSpan(parent, span));
      if (isControlSubject(subject)) {
        if (!this.signer) throw new Error(`refusing to publish ${subject} unsigned: this publisher has no signing key`);
        const signed = signEventPayload(this.signer, bytes);
        h.set(SIGNATURE_HEADER, signed.signature);
        h.set(KEY_ID_HEADER, signed.keyId);
      }
      const ack = await this.js.publish(subject, bytes, { msgID: this.deduplicationKeyOf(subject, id), headers: h });
      return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  }

  private deduplicationKeyOf(subject: string, id: string): string {
    const tenantId = subjectTenant(subject);
    // Everything under `health.` is stored in HEALTH (`health.>`), well-formed or not.
    return subject.startsWith('health.') ? healthDeduplicationKey(this.healthSecret, tenantId, id) : deduplicationKey(tenantId, id);
  }
}

/** The envelope fields a span shows, read from a payload that is an envelope (or not). */
function carried(payload: unknown): CarriedEvent {
  if (typeof payload !== 'object' || payload === null) return {};
  const p = payload as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return { type: text(p.type), tenantId: text(p.tenantId), correlationId: text(p.correlationId) };
}
