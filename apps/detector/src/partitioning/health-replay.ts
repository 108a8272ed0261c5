import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { STREAMS, type Envelope } from '@autoheal/contracts';
import { decodeEvent } from '@autoheal/messaging';

export interface ReplayedEvent {
  seq: number;
  subject: string;
  event: Envelope;
}

/** The health stream's oldest and newest sequence numbers: everything stored lies between. */
export async function healthStreamBounds(nc: NatsConnection): Promise<{ firstSeq: number; lastSeq: number }> {
  const info = await (await jetstreamManager(nc)).streams.info(STREAMS.health.name);
  return { firstSeq: info.state.first_seq, lastSeq: info.state.last_seq };
}

/**
 * Reads the health stream again from `afterSeq` (exclusive) to `throughSeq` (inclusive), in
 * order, for the subjects `accept` picks: what a detector taking partitions over must apply
 * to the state it loaded. Invalid messages are skipped (the consumer that first read them
 * dead-lettered them). Uses an ordered consumer: nothing to acknowledge, nothing left behind.
 */
export async function* replayHealth(nc: NatsConnection, afterSeq: number, throughSeq: number, accept: (subject: string) => boolean): AsyncGenerator<ReplayedEvent> {
  if (throughSeq <= afterSeq) return;
  // Nothing of the range is stored any more (aged out): the loaded state is all there is.
  if (throughSeq < (await healthStreamBounds(nc)).firstSeq) return;
  // The stream holds health.> only: no filter needed (and nats-server 2.9 knows no filter lists).
  const consumer = await jetstream(nc).consumers.get(STREAMS.health.name, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: afterSeq + 1,
  });
  const messages = await consumer.consume({ max_messages: 1_000 });
  try {
    for await (const msg of messages) {
      const seq = msg.info.streamSequence;
      if (seq > throughSeq) break;
      if (accept(msg.subject)) {
        const decoded = decodeEvent(msg.subject, msg.data);
        if (decoded.ok) yield { seq, subject: msg.subject, event: decoded.event };
      }
      if (seq >= throughSeq) break;
    }
  } finally {
    await messages.close();
  }
}
