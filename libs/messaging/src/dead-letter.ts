import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import {
  DEAD_LETTER_MAX_PAYLOAD_BYTES,
  DEAD_LETTER_MAX_RECORD_BYTES,
  deadLetterSubject,
  subjectTenantOrNull,
  type DeadLetterReason,
  type DeadLetterRecord,
} from '@autoheal/contracts';
import { createCounter, createLogger } from '@autoheal/telemetry';
import { DEAD_LETTERS_PER_TENANT_PER_MINUTE, DeadLetterBudget } from './dead-letter-budget.js';
import { headersToRecord } from './trace-headers.js';

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();
const log = createLogger('dead-letters');

/** Says how many bytes the original payload had when the record keeps only part of it. */
export const TRUNCATED_FROM_HEADER = 'Autoheal-Truncated-From-Bytes';
/** Says how many of the original message's headers the record left out (they did not fit). */
const HEADERS_DROPPED_HEADER = 'Autoheal-Headers-Dropped';
const MAX_DETAIL_CHARS = 1_000;
const MAX_HEADER_BYTES = 4 * 1024;

const limited = createCounter<'tenant' | 'stream' | 'consumer'>({
  name: 'autoheal_dead_letters_limited_total',
  help: 'Dead letters not stored because their tenant was over its dead-letter budget (per tenant and process, per minute).',
  labelNames: ['tenant', 'stream', 'consumer'],
});

const stored = createCounter<'tenant' | 'stream' | 'consumer' | 'reason'>({
  name: 'autoheal_dead_letters_total',
  help: 'Dead letters stored on the dead-letter stream, by the stream and consumer that refused the message, tenant and reason.',
  labelNames: ['tenant', 'stream', 'consumer', 'reason'],
});

/** The process's budget; tests of the limit bring their own. */
const processBudget = new DeadLetterBudget(DEAD_LETTERS_PER_TENANT_PER_MINUTE, 60_000);

/** Keeps at most DEAD_LETTER_MAX_PAYLOAD_BYTES of a payload, as UTF-8 text when it is that, else base64. */
export function boundedPayload(data: Uint8Array): Pick<DeadLetterRecord, 'payload' | 'payloadEncoding'> & { truncatedFrom: number | null } {
  const truncatedFrom = data.byteLength > DEAD_LETTER_MAX_PAYLOAD_BYTES ? data.byteLength : null;
  const kept = truncatedFrom === null ? data : data.subarray(0, DEAD_LETTER_MAX_PAYLOAD_BYTES);
  try {
    return { payload: decoder.decode(kept), payloadEncoding: 'utf8', truncatedFrom };
  } catch {
    // Invalid UTF-8, or valid text cut inside a character: base64 keeps the bytes as they were.
    return { payload: Buffer.from(kept).toString('base64'), payloadEncoding: 'base64', truncatedFrom };
  }
}

export function deadLetterRecordFor(msg: JsMsg, reason: DeadLetterReason, detail: string, now: Date): DeadLetterRecord {
  const { payload, payloadEncoding, truncatedFrom } = boundedPayload(msg.data);
  const headers = headersToRecord(msg.headers);
  return {
    reason,
    detail,
    stream: msg.info.stream,
    consumer: msg.info.consumer,
    subject: msg.subject,
    streamSequence: msg.info.streamSequence,
    deliveries: msg.info.deliveryCount,
    headers: truncatedFrom === null ? headers : { ...headers, [TRUNCATED_FROM_HEADER]: [String(truncatedFrom)] },
    payload,
    payloadEncoding,
    deadLetteredAt: now.toISOString(),
  };
}

/**
 * The record as stored, at most DEAD_LETTER_MAX_RECORD_BYTES: detail and headers are cut
 * first, then the payload until it fits (JSON escaping can make text several times longer).
 * So every dead letter fits the stream's `max_msg_size`, and a tenant's share of the stream is
 * at most its message count times that.
 */
export function encodeDeadLetter(record: DeadLetterRecord): Uint8Array {
  const headers: Record<string, string[]> = {};
  let headerBytes = 0;
  let dropped = 0;
  for (const [name, values] of Object.entries(record.headers)) {
    const size = Buffer.byteLength(JSON.stringify([name, values]), 'utf8');
    if (name !== TRUNCATED_FROM_HEADER && headerBytes + size > MAX_HEADER_BYTES) {
      dropped++;
      continue;
    }
    headers[name] = values;
    headerBytes += size;
  }
  if (dropped > 0) headers[HEADERS_DROPPED_HEADER] = [String(dropped)];
  let bounded: DeadLetterRecord = { ...record, detail: record.detail.slice(0, MAX_DETAIL_CHARS), headers };
  for (;;) {
    const bytes = encoder.encode(JSON.stringify(bounded));
    if (bytes.byteLength <= DEAD_LETTER_MAX_RECORD_BYTES) return bytes;
    if (bounded.payload === '') {
      // Only a subject kilobytes long gets here: keep what identifies the message.
      return encoder.encode(JSON.stringify({ ...bounded, detail: bounded.detail.slice(0, 200), subject: bounded.subject.slice(0, 1_000), headers: { [TRUNCATED_FROM_HEADER]: bounded.headers[TRUNCATED_FROM_HEADER] ?? ['0'] } }));
    }
    const original = bounded.headers[TRUNCATED_FROM_HEADER]?.[0] ?? String(payloadBytes(bounded));
    // Halving converges within a few rounds; a base64 payload stays whole 4-character groups.
    const keep = bounded.payloadEncoding === 'base64' ? Math.floor(bounded.payload.length / 8) * 4 : Math.floor(bounded.payload.length / 2);
    bounded = { ...bounded, payload: bounded.payload.slice(0, keep), headers: { ...bounded.headers, [TRUNCATED_FROM_HEADER]: [original] } };
  }
}

function payloadBytes(record: DeadLetterRecord): number {
  return record.payloadEncoding === 'base64' ? Buffer.from(record.payload, 'base64').byteLength : Buffer.byteLength(record.payload, 'utf8');
}

export interface DeadLetterDestination {
  /**
   * The consumer token of the subject: the durable, or the name its processes share (every
   * detector's `detector-health-<member>` writes to `detector-health`), so a tenant's share does
   * not grow with the number of processes that ever ran.
   */
  consumer: string;
  /** The tenant the message belongs to; null when none can be read (it then goes to the DEAD_LETTER_NO_TENANT subject). */
  tenantId: string | null;
  /** Nats-Msg-Id: the same dead letter published twice is stored once. */
  msgID: string;
}

/**
 * Stores a dead letter on `deadletter.<stream>.<consumer>.<tenant>`, bounded in size, unless the
 * tenant is over its budget: then it is counted (`autoheal_dead_letters_limited_total`), logged
 * once per window, and not stored. A stored one is counted in `autoheal_dead_letters_total` (a
 * republished copy the stream deduplicates counts again: the counter says what this process
 * refused, the stream what it kept). Returns whether it was stored.
 */
export async function publishDeadLetter(js: JetStreamClient, record: DeadLetterRecord, to: DeadLetterDestination, budget: DeadLetterBudget = processBudget): Promise<'stored' | 'limited'> {
  const subject = deadLetterSubject(record.stream, to.consumer, to.tenantId);
  const tenant = subject.slice(subject.lastIndexOf('.') + 1);
  const { allowed, firstRefusal } = budget.take(tenant);
  if (!allowed) {
    limited.inc({ tenant, stream: record.stream, consumer: to.consumer });
    if (firstRefusal) {
      log.warn(
        { tenant, stream: record.stream, consumer: to.consumer, reason: record.reason, limit: budget.perWindow, windowMs: budget.windowMs },
        'tenant over its dead-letter budget: its dead letters are counted, not stored, until the window ends',
      );
    }
    return 'limited';
  }
  await js.publish(subject, encodeDeadLetter(record), { msgID: to.msgID });
  stored.inc({ tenant, stream: record.stream, consumer: to.consumer, reason: record.reason });
  return 'stored';
}

/**
 * Copies the message to the dead-letter stream with its reason (unless its tenant is over its
 * dead-letter budget), then terminates it. The copy is published first and deduplicated by
 * stream and sequence: if the term is lost and the message comes back, it is dead-lettered once.
 */
export async function deadLetter(
  js: JetStreamClient,
  msg: JsMsg,
  reason: DeadLetterReason,
  detail: string,
  options: { now?: Date; consumer?: string; budget?: DeadLetterBudget } = {},
): Promise<'stored' | 'limited'> {
  const record = deadLetterRecordFor(msg, reason, detail, options.now ?? new Date());
  const stored = await publishDeadLetter(
    js,
    record,
    { consumer: options.consumer ?? record.consumer, tenantId: subjectTenantOrNull(msg.subject), msgID: `dl:${record.stream}:${record.consumer}:${record.streamSequence}` },
    options.budget,
  );
  msg.term(`${reason}: ${detail}`.slice(0, 200));
  return stored;
}
