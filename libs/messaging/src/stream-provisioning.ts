import { AckPolicy, DeliverPolicy, DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { DEAD_LETTER_MAX_RECORD_BYTES, STREAMS, type StreamKey } from '@autoheal/contracts';

/** Store-side dedup window for Nats-Msg-Id: a retried publish within it is stored once. */
const DUPLICATE_WINDOW_MS = 2 * 60_000;

const DAY_MS = 24 * 60 * 60_000;

/**
 * How long each stream keeps a message. The streams the auditor records (INCIDENTS, REMEDIATIONS,
 * COMPLIANCE, SECURITY) keep 30 days, so that an auditor that has fallen behind raises the alarm
 * long before anything it has not recorded can expire (deploy/prometheus/autoheal.rules.yml):
 * `AutohealAuditorLagging` (warning) once its oldest unrecorded event is 15 minutes old — 30 days
 * minus 20 minutes before expiry; `AutohealAuditorLagNearExpiry` (critical) at a tenth of max_age
 * — 3 days in, 27 days before anything expires. Limits by age only, never by count or bytes with
 * discard old: a burst would otherwise push out what the auditor has not read, with no lag alarm
 * first. (INCIDENTS and REMEDIATIONS kept 7 days before: the critical alarm then left six.)
 */
const STREAM_LIMITS: Record<StreamKey, { maxAgeMs: number }> = {
  health: { maxAgeMs: 60 * 60_000 },
  incidents: { maxAgeMs: 30 * DAY_MS },
  remediations: { maxAgeMs: 30 * DAY_MS },
  compliance: { maxAgeMs: 30 * DAY_MS },
  security: { maxAgeMs: 30 * DAY_MS },
  deadLetter: { maxAgeMs: 30 * DAY_MS },
  // Kept for ever: evidence that outlives the audit log's own retention.
  checkpoints: { maxAgeMs: 0 },
};

/** Streams created once and never updated at boot: their limits cannot be loosened by whoever runs a service. */
const CREATE_ONLY: ReadonlySet<StreamKey> = new Set(['checkpoints']);

/**
 * The dead-letter stream's limits. Dead letters go to `deadletter.<stream>.<consumer>.<tenant>`,
 * so the per-subject count bounds each tenant's share per consumer, oldest discarded first; with
 * every record at most DEAD_LETTER_MAX_RECORD_BYTES (`max_msg_size`), a tenant's share is at most
 * perSubject × that per consumer its events reach. `maxBytes` bounds the whole stream.
 * Every service provisions the stream: give them all the same values.
 */
export interface DeadLetterLimits {
  /** `NATS_DEAD_LETTERS_PER_SUBJECT` (1,000). */
  perSubject: number;
  /** `NATS_DEAD_LETTER_STREAM_MAX_BYTES` (1 GiB). */
  maxBytes: number;
}

export const DEFAULT_DEAD_LETTER_LIMITS: DeadLetterLimits = { perSubject: 1_000, maxBytes: 1024 * 1024 * 1024 };

/** Reads the dead-letter limits from the environment; a bad value stops the boot, naming the variable. */
export function deadLetterLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): DeadLetterLimits {
  const read = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer of at least ${min}, got ${JSON.stringify(raw)}`);
    return value;
  };
  return {
    perSubject: read('NATS_DEAD_LETTERS_PER_SUBJECT', DEFAULT_DEAD_LETTER_LIMITS.perSubject, 1),
    maxBytes: read('NATS_DEAD_LETTER_STREAM_MAX_BYTES', DEFAULT_DEAD_LETTER_LIMITS.maxBytes, DEAD_LETTER_MAX_RECORD_BYTES),
  };
}

export function streamConfig(key: StreamKey, replicas = 1, deadLetters: DeadLetterLimits = DEFAULT_DEAD_LETTER_LIMITS): Partial<StreamConfig> & { name: string } {
  const stream = STREAMS[key];
  return {
    name: stream.name,
    subjects: [...stream.subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    num_replicas: replicas,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    max_age: nanos(STREAM_LIMITS[key].maxAgeMs),
    // All of these can be changed on an existing stream: the update at boot applies them.
    ...(key === 'deadLetter'
      ? { max_msgs_per_subject: deadLetters.perSubject, max_msg_size: DEAD_LETTER_MAX_RECORD_BYTES, max_bytes: deadLetters.maxBytes, discard: DiscardPolicy.Old }
      : {}),
    // Nothing in it can be deleted or purged, by any client: the server refuses, and refuses an update that would allow it.
    ...(key === 'checkpoints' ? { deny_delete: true, deny_purge: true, allow_rollup_hdrs: false, allow_direct: true } : {}),
  };
}

/**
 * Creates every stream (or those named in `only`: a service provisions the streams its NATS
 * identity may create), or updates it to the configuration in code. Safe to run from every
 * service at every boot, concurrently.
 */
export async function provisionStreams(
  nc: NatsConnection,
  replicas = Number(process.env.NATS_STREAM_REPLICAS ?? 1),
  only?: readonly string[],
  deadLetters: DeadLetterLimits = deadLetterLimitsFromEnv(),
): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  const keys = (Object.keys(STREAMS) as StreamKey[]).filter((key) => !only || only.includes(STREAMS[key].name));
  for (const key of keys) {
    const config = streamConfig(key, replicas, deadLetters);
    try {
      await jsm.streams.info(config.name);
      if (!CREATE_ONLY.has(key)) await jsm.streams.update(config.name, config);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        await jsm.streams.add(config);
      } catch (addError) {
        // Another service created it between our info and add: that is the outcome we wanted.
        if (!/already in use|already exists/i.test(String(addError))) throw addError;
      }
    }
  }
  return jsm;
}

export interface ConsumerSpec {
  stream: StreamKey;
  /** Durable name; also the pattern a Nest handler is registered under, unless `RunConsumerSpec.pattern` is set. */
  durable: string;
  filterSubject: string;
  /** Deliveries before a message is dead-lettered. */
  maxDeliver?: number;
  ackWaitMs?: number;
  maxAckPending?: number;
  /**
   * Where a newly created consumer starts: `all` (the default) replays the stream's whole
   * retention; `new` starts at the next message stored, for a consumer whose owner recovers the
   * past another way. Ignored for a consumer that exists already.
   */
  deliverPolicy?: 'all' | 'new';
  /** The server deletes the consumer after it had no client for this long (per-process durables). */
  inactiveThresholdMs?: number;
}

export const DEFAULT_MAX_DELIVER = 5;
/**
 * Short, so that a consumer that dies mid-message has it redelivered within seconds; a
 * handler that takes longer keeps its message with in-progress acks (see startConsumer).
 */
export const DEFAULT_ACK_WAIT_MS = 10_000;

/** Durable pull consumer with explicit ack, added or updated to match the spec. */
export async function provisionConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  const stream = STREAMS[spec.stream].name;
  const config = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: spec.deliverPolicy === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
    filter_subject: spec.filterSubject,
    max_deliver: spec.maxDeliver ?? DEFAULT_MAX_DELIVER,
    ack_wait: nanos(spec.ackWaitMs ?? DEFAULT_ACK_WAIT_MS),
    max_ack_pending: spec.maxAckPending ?? 1000,
    ...(spec.inactiveThresholdMs !== undefined ? { inactive_threshold: nanos(spec.inactiveThresholdMs) } : {}),
  };
  try {
    await jsm.consumers.add(stream, config);
  } catch (error) {
    if (!/already exists|already in use/i.test(String(error))) throw error;
    const { durable_name: _name, deliver_policy: _deliver, ...updatable } = config;
    await jsm.consumers.update(stream, spec.durable, updatable);
  }
}

function isNotFound(error: unknown): boolean {
  return /not found/i.test(String(error));
}
