import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { healthDeduplicationKey, newHealthDeduplicationSecret, type Envelope } from '@autoheal/contracts';

/**
 * Publishes a reporter's health events to JetStream with a `Nats-Msg-Id` derived from a secret
 * this publisher alone holds (see healthDeduplicationKey): publishing the same event again — a
 * retry after a lost acknowledgement — is stored once, and no other tenant's producer can claim
 * the key before the event is stored, as it could a key built from the tenant and event id.
 * The secret lives as long as the reporter, which is as long as it retries an event.
 */
export class HealthPublish {
  private readonly secret = newHealthDeduplicationSecret();

  constructor(private readonly js: JetStreamClient) {}

  /** The key a publish of `event` carries. */
  deduplicationKey(event: Pick<Envelope, 'tenantId' | 'id'>): string {
    return healthDeduplicationKey(this.secret, event.tenantId, event.id);
  }

  /** Resolves once the stream stored the event (or had it already: `duplicate`). */
  publish(subject: string, event: Envelope, timeoutMs: number): Promise<PubAck> {
    return this.js.publish(subject, JSON.stringify(event), { msgID: this.deduplicationKey(event), timeout: timeoutMs });
  }
}
