import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { deadLetterSubject, type DeadLetterReason, type DeadLetterRecord } from '@autoheal/contracts';
import { headersToRecord } from './trace-headers.js';

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export function deadLetterRecordFor(msg: JsMsg, reason: DeadLetterReason, detail: string, now: Date): DeadLetterRecord {
  let payload: string;
  let payloadEncoding: DeadLetterRecord['payloadEncoding'] = 'utf8';
  try {
    payload = decoder.decode(msg.data);
  } catch {
    payload = Buffer.from(msg.data).toString('base64');
    payloadEncoding = 'base64';
  }
  return {
    reason,
    detail,
    stream: msg.info.stream,
    consumer: msg.info.consumer,
    subject: msg.subject,
    streamSequence: msg.info.streamSequence,
    deliveries: msg.info.deliveryCount,
    headers: headersToRecord(msg.headers),
    payload,
    payloadEncoding,
    deadLetteredAt: now.toISOString(),
  };
}

/**
 * Copies the message to the dead-letter stream with its reason, then terminates it. The
 * copy is published first and deduplicated by stream and sequence: if the term is lost and
 * the message comes back, it is dead-lettered once.
 */
export async function deadLetter(js: JetStreamClient, msg: JsMsg, reason: DeadLetterReason, detail: string, now = new Date()): Promise<void> {
  const record = deadLetterRecordFor(msg, reason, detail, now);
  await js.publish(deadLetterSubject(record.stream, record.consumer), encoder.encode(JSON.stringify(record)), {
    msgID: `dl:${record.stream}:${record.consumer}:${record.streamSequence}`,
  });
  msg.term(`${reason}: ${detail}`.slice(0, 200));
}
