import type { JsMsg } from '@nats-io/jetstream';
import { newEvent, parseDomainSubject, type Envelope, type EventData, type StreamKey } from '@autoheal/contracts';
import { KEY_ID_HEADER, SIGNATURE_HEADER, verifyEventProvenance, type Identity, type ProvenanceRejectionReason, type TrustStore } from '@autoheal/security';
import type { EventPublisher } from './event-publisher.js';

/** Streams whose events carry their producer's signature; health events come unsigned from tenants. */
export const SIGNED_STREAMS: ReadonlySet<StreamKey> = new Set<StreamKey>(['incidents', 'remediations', 'compliance', 'security']);

/** A control event whose provenance could not be established, as its consumer saw it. */
export interface ProvenanceRejection {
  /** The tenant named by the subject (the envelope is not trusted). */
  tenantId: string;
  data: EventData<'security.event_rejected'>;
}

/**
 * What a consumer of control events asks before its handler runs. `check` is synchronous and
 * cheap (one Ed25519 verify); `onRejected` records the refusal before the message is
 * dead-lettered — if it throws, the message is redelivered and judged again.
 */
export interface ProvenanceGuard {
  check(msg: JsMsg, event: Envelope, durable: string): ProvenanceRejection | null;
  onRejected(rejection: ProvenanceRejection): Promise<void>;
}

export interface SignedEventGuardOptions {
  trust: TrustStore;
  now?: () => Date;
  onRejected: (rejection: ProvenanceRejection) => Promise<void>;
}

/** Checks signatures against the trust store (see @autoheal/security verifyEventProvenance). */
export class SignedEventGuard implements ProvenanceGuard {
  private readonly now: () => Date;

  constructor(private readonly options: SignedEventGuardOptions) {
    this.now = options.now ?? (() => new Date());
  }

  check(msg: JsMsg, event: Envelope, durable: string): ProvenanceRejection | null {
    const signature = msg.headers?.get(SIGNATURE_HEADER) || undefined;
    const keyId = msg.headers?.get(KEY_ID_HEADER) || undefined;
    const verdict = verifyEventProvenance(this.options.trust, { payload: msg.data, signature, keyId, type: event.type, producer: event.producer }, this.now());
    if (verdict.ok) return null;
    return rejectionOf(msg, event, durable, verdict.reason, verdict.detail, verdict.keyId);
  }

  onRejected(rejection: ProvenanceRejection): Promise<void> {
    return this.options.onRejected(rejection);
  }
}

/** What is said about a refused event: what it claimed and why it was refused, never its data. */
export function rejectionOf(msg: JsMsg, event: Envelope, durable: string, reason: ProvenanceRejectionReason, detail: string, keyId: string | null): ProvenanceRejection {
  const parts = parseDomainSubject(msg.subject);
  return {
    // decodeEvent has matched the subject against the envelope, so this is the subject's tenant.
    tenantId: parts?.tenantId ?? event.tenantId,
    data: {
      reason,
      detail: detail.slice(0, 1_000),
      subject: msg.subject,
      eventId: event.id,
      eventType: event.type,
      claimedProducer: event.producer.slice(0, 200),
      keyId: keyId?.slice(0, 200) ?? null,
      rejectedBy: durable,
      stream: msg.info.stream,
      streamSequence: msg.info.streamSequence,
    },
  };
}

/** The default `onRejected`: a signed `security.<tenant>.event_rejected`, produced by the service that caught it. */
export function raiseSecurityEvent(publisher: EventPublisher, producer: Identity): (rejection: ProvenanceRejection) => Promise<void> {
  return async ({ tenantId, data }) => {
    await publisher.publish(newEvent('security.event_rejected', { tenantId, producer, data }));
  };
}
