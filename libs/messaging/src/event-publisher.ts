import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { context, SpanKind, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import { deduplicationKey, subjectFor, subjectTenant, type Envelope } from '@autoheal/contracts';
import { isControlSubject, KEY_ID_HEADER, signEventPayload, SIGNATURE_HEADER, type SigningKey } from '@autoheal/security';
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
}

/**
 * Publishes envelopes to JetStream with `Nats-Msg-Id` = `<tenant>:<event id>` (a retried publish
 * is stored once; another tenant's event with the same id is not suppressed), a producer span whose context travels in the headers, and — for control events —
 * the producer's Ed25519 signature and key id in the headers (`Autoheal-Signature`, `Autoheal-Key-Id`).
 */
export class EventPublisher {
  private readonly js: JetStreamClient;
  private readonly signer: SigningKey | undefined;

  constructor(nc: NatsConnection, options: EventPublisherOptions = {}) {
    this.js = jetstream(nc);
    this.signer = options.signer;
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
    const span = tracer.startSpan(
      `${subject} publish`,
      {
        kind: SpanKind.PRODUCER,
        attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject, 'messaging.message.id': id },
      },
      parent,
    );
    try {
      const h = injectTraceContext(natsHeaders(), trace.setSpan(parent, span));
      const bytes = encoder.encode(JSON.stringify(payload));
      if (isControlSubject(subject)) {
        if (!this.signer) throw new Error(`refusing to publish ${subject} unsigned: this publisher has no signing key`);
        const signed = signEventPayload(this.signer, bytes);
        h.set(SIGNATURE_HEADER, signed.signature);
        h.set(KEY_ID_HEADER, signed.keyId);
      }
      const ack = await this.js.publish(subject, bytes, { msgID: deduplicationKey(subjectTenant(subject), id), headers: h });
      return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  }
}
