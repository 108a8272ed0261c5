import { Inject, Injectable } from '@nestjs/common';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { checkpointKeySubject, checkpointSubject, STREAMS } from '@autoheal/contracts';
import type { PublicKeyRecord, SignedPoint } from '@autoheal/evidence';
import { NATS_CONNECTION } from '@autoheal/messaging';

const STREAM = STREAMS.checkpoints.name;

/**
 * The AUDIT_CHECKPOINTS stream: where checkpoints and the auditor's public keys are kept outside
 * the database. Created with deny_delete and deny_purge and no limits (libs/messaging), so what is
 * published stays; the auditor's NATS identity may publish here, read by subject, and nothing else.
 */
@Injectable()
export class CheckpointStream {
  private readonly js: JetStreamClient;
  private jsm: Promise<JetStreamManager> | null = null;

  constructor(@Inject(NATS_CONNECTION) private readonly nc: NatsConnection) {
    this.js = jetstream(nc);
  }

  /** Stored once per tenant and seq (the message id), however often it is retried. */
  async publishCheckpoint(checkpoint: SignedPoint): Promise<void> {
    await this.js.publish(checkpointSubject(checkpoint.tenantId), JSON.stringify(checkpoint), { msgID: `${checkpoint.tenantId}:${checkpoint.seq}` });
  }

  async publishKey(key: PublicKeyRecord): Promise<void> {
    await this.js.publish(checkpointKeySubject(key.keyId), JSON.stringify(key), { msgID: key.keyId });
  }

  /** The tenant's latest checkpoint in the stream, or null when it has none. */
  async latestCheckpoint(tenantId: string): Promise<SignedPoint | null> {
    return this.last<SignedPoint>(checkpointSubject(tenantId));
  }

  /** The first announcement of a key, or null when the stream never saw it. */
  async announcedKey(keyId: string): Promise<PublicKeyRecord | null> {
    return this.last<PublicKeyRecord>(checkpointKeySubject(keyId));
  }

  private async last<T>(subject: string): Promise<T | null> {
    this.jsm ??= jetstreamManager(this.nc);
    try {
      const message = await (await this.jsm).streams.getMessage(STREAM, { last_by_subj: subject });
      return message ? (message.json<T>()) : null;
    } catch (error) {
      if (/no message found|not found/i.test(String(error))) return null;
      throw error;
    }
  }
}
