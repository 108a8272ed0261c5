import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { STREAMS, type DeadLetterRecord, type Envelope } from '@autoheal/contracts';
import { EventPublisher, NATS_CONNECTION, publishDeadLetter, TRUNCATED_FROM_HEADER } from '@autoheal/messaging';
import { createCounter, createLogger } from '@autoheal/telemetry';
import { instanceStateOf } from '../heartbeat/instance-quota.js';
import { mapAlertmanagerPayload } from './alertmanager.mapping.js';
import { splitBody, validateHealthEvents } from './ingest-validation.js';
import { IngestError, IngestErrorCode, payloadTooLarge, type IngestViolation } from './ingest.errors.js';
import type { IngestConfig } from './ingest.config.js';
import type { IngestQuota, IngestQuotas, QuotaRefusal } from './ingest-quotas.js';
import { PerTenantInFlight, type InFlightOptions } from './per-tenant-in-flight.js';
import { INGEST_ALERT_ID_KEY, INGEST_CLOCK, INGEST_CONFIG, INGEST_INSTANCE_ADMISSION, INGEST_QUOTAS, type IngestClock, type IngestInstanceAdmission } from './ingest.tokens.js';

/** Where a rejected HTTP message is copied: `deadletter.HEALTH.<source>.<tenant>`. */
export type IngestSource = 'http-ingest' | 'alertmanager';

export interface IngestReceipt {
  accepted: number;
  /** Events JetStream already had (same id within its duplicate window): stored once. */
  duplicates: number;
  ids: string[];
}

const quotaExceeded = createCounter<'tenant' | 'quota'>({
  name: 'autoheal_detector_ingest_quota_exceeded_total',
  help: 'Ingest requests refused because a tenant was over a quota (requests, bytes or events per second).',
  labelNames: ['tenant', 'quota'],
});

const ingested = createCounter<'source' | 'outcome'>({
  name: 'autoheal_detector_ingest_events_total',
  help: 'Events received over HTTP ingest, by source and outcome (accepted, duplicate, invalid, rate_limited, instance_quota).',
  labelNames: ['source', 'outcome'],
});

const log = createLogger('detector-ingest');

/**
 * JetStream publishes (events and dead letters) of one tenant waiting for their acknowledgement
 * at once, across all of that tenant's requests to this detector. Every tenant's events go to
 * the one HEALTH stream, which writes them one after another, each synced to disk before it is
 * acknowledged (`sync_interval: always`): a batch published all at once put up to 500 writes
 * ahead of every other tenant's next event. With NATS alone (tools/bench/stream-fairness.bench.js,
 * 2 cores, loaded), one client publishing 200 events a second in batches of 50 all at once moved
 * another client's single publish from p99 21 ms to 108 ms; with at most 8 of them in flight, to
 * 54 ms, and it got as many through (the stream takes them one at a time either way). 4 or 2 in
 * flight measured no better than 8.
 */
export const INGEST_PUBLISHES_IN_FLIGHT_PER_TENANT = 8;

/** The events a tenant sends over and over, whatever happens: they wait behind its others. */
const ROUTINE_EVENTS: ReadonlySet<string> = new Set(['health.heartbeat', 'health.metrics']);

/**
 * A tenant's crash report (or planned stop, or alert) is published before its heartbeats and
 * metrics still waiting for a place: behind a batch of 40 heartbeats, each a synced write on the
 * HEALTH stream, a crash report sent at the same moment waited 20–90 ms in this queue before it
 * was even published (spans of the tenant-abuse bench, the tenant alone), longer whenever another
 * tenant's writes slowed the stream. Heartbeats lose nothing by it (their deadline is three
 * intervals), and the events of one instance keep their order: the detector's tracker takes a
 * heartbeat that arrives after its instance's stop or exit as the instance being back.
 */
export function publishOrder(event: Envelope): InFlightOptions {
  const data = event.data as { service?: unknown; instance?: unknown };
  const key = typeof data.service === 'string' ? `${data.service}/${typeof data.instance === 'string' ? data.instance : ''}` : undefined;
  return { urgent: !ROUTINE_EVENTS.has(event.type), key };
}

/** The variable that sets each quota, named in a refusal. */
const QUOTA_VARIABLES: Record<IngestQuota, string> = {
  requests: 'DETECTOR_INGEST_REQUESTS_PER_SEC',
  bytes: 'DETECTOR_INGEST_BYTES_PER_SEC',
  events: 'DETECTOR_INGEST_RATE_PER_SEC',
};

/**
 * HTTP ingest: validates what producers that cannot speak NATS send, publishes the valid
 * events to the HEALTH stream with a `Nats-Msg-Id` only the detector can compute (EventPublisher),
 * and copies anything invalid to
 * the dead-letter stream with its reason before telling the producer (400). A request is all
 * or nothing: when one event is invalid none is published, so the producer can fix and resend
 * the whole batch (ids make the resend idempotent).
 */
@Injectable()
export class IngestService {
  private readonly js: JetStreamClient;
  private readonly inFlight = new PerTenantInFlight(INGEST_PUBLISHES_IN_FLIGHT_PER_TENANT);

  constructor(
    @Inject(NATS_CONNECTION) nc: NatsConnection,
    private readonly publisher: EventPublisher,
    @Inject(INGEST_QUOTAS) private readonly quotas: IngestQuotas,
    @Inject(INGEST_ALERT_ID_KEY) private readonly alertIdKey: Buffer,
    @Inject(INGEST_CONFIG) private readonly config: Pick<IngestConfig, 'DETECTOR_INGEST_DEAD_LETTER_MAX_BYTES'>,
    @Inject(INGEST_CLOCK) private readonly clock: IngestClock,
    @Inject(INGEST_INSTANCE_ADMISSION) private readonly admission: IngestInstanceAdmission,
  ) {
    this.js = jetstream(nc);
  }

  /** The tenant's publishes waiting for the stream now, and those waiting for their turn (INGEST_PUBLISHES_IN_FLIGHT_PER_TENANT). */
  publishLoad(tenantId: string): { running: number; waiting: number } {
    return this.inFlight.load(tenantId);
  }

  async ingestHealthEvents(tenantId: string, body: unknown): Promise<IngestReceipt> {
    const source: IngestSource = 'http-ingest';
    const split = splitBody(body);
    this.limit(source, tenantId, split.ok ? split.items.length : 1);
    if (!split.ok) {
      const kept = await this.deadLetter(source, tenantId, split.violation, body);
      throw this.invalid(source, [split.violation], 1, [kept]);
    }
    const { valid, rejected } = validateHealthEvents(tenantId, split);
    if (rejected.length > 0) {
      const kept = await Promise.all(rejected.map((r) => this.deadLetter(source, tenantId, r.violation, r.raw)));
      throw this.invalid(source, rejected.map((r) => r.violation), split.items.length, kept);
    }
    return this.publish(source, tenantId, valid.map((v) => v.event));
  }

  async ingestAlertmanager(tenantId: string, body: unknown): Promise<IngestReceipt> {
    const source: IngestSource = 'alertmanager';
    const alerts = typeof body === 'object' && body !== null && Array.isArray((body as { alerts?: unknown }).alerts) ? (body as { alerts: unknown[] }).alerts.length : 1;
    this.limit(source, tenantId, Math.max(1, alerts));
    const mapping = mapAlertmanagerPayload(tenantId, body, this.clock.now(), this.alertIdKey);
    if (!mapping.ok) {
      const kept = await this.deadLetter(source, tenantId, mapping.violation, body);
      throw this.invalid(source, [mapping.violation], 1, [kept]);
    }
    if (mapping.rejected.length > 0) {
      const kept = await Promise.all(mapping.rejected.map((r) => this.deadLetter(source, tenantId, r.violation, r.raw)));
      throw this.invalid(source, mapping.rejected.map((r) => r.violation), alerts, kept);
    }
    return this.publish(source, tenantId, mapping.events.map((m) => m.event));
  }

  /**
   * Takes one request and its declared bytes from the tenant's budgets, before the body is read;
   * throws PayloadTooLarge for a body declared over the size limit (whatever the budgets hold:
   * no retry could pass), RateLimited when a budget is spent.
   */
  admitRequest(source: IngestSource, tenantId: string, declaredBytes: number | null): void {
    const refusal = this.quotas.admit(tenantId, declaredBytes);
    if (refusal?.quota === 'size') throw payloadTooLarge(refusal.maxBodyBytes, refusal.declaredBytes);
    this.refuseOverQuota(source, tenantId, refusal);
  }

  /** Takes the bytes of a body that declared no length, once it is read. */
  chargeBodyBytes(source: IngestSource, tenantId: string, bytes: number): void {
    this.refuseOverQuota(source, tenantId, this.quotas.chargeBytes(tenantId, bytes));
  }

  private refuseOverQuota(source: IngestSource, tenantId: string, refusal: QuotaRefusal | null, events = 1): void {
    if (!refusal) return;
    ingested.inc({ source, outcome: 'rate_limited' }, events);
    quotaExceeded.inc({ tenant: tenantId, quota: refusal.quota });
    const retryAfterSeconds = Math.max(1, Math.ceil(refusal.retryAfterMs / 1000));
    const variable = QUOTA_VARIABLES[refusal.quota];
    throw new IngestError(IngestErrorCode.RateLimited, `tenant ${tenantId} is over its ingest ${refusal.quota} quota (${variable}); retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
  }

  /** A body that is not JSON at all, or nests too deep: kept as text in the dead-letter stream, then refused. */
  async rejectMalformed(source: IngestSource, tenantId: string, rawBody: string, detail: string): Promise<void> {
    ingested.inc({ source, outcome: 'invalid' });
    await this.deadLetter(source, tenantId, { index: null, field: '(root)', message: detail }, rawBody);
  }

  private limit(source: IngestSource, tenantId: string, cost: number): void {
    this.refuseOverQuota(source, tenantId, this.quotas.takeEvents(tenantId, cost), cost);
  }

  private invalid(source: IngestSource, violations: IngestViolation[], received: number, kept: ('stored' | 'limited')[]): IngestError {
    ingested.inc({ source, outcome: 'invalid' }, received);
    const first = violations[0];
    const where = first.index === null ? '' : ` (event ${first.index})`;
    const copies = kept.includes('limited') ? 'the tenant is over its dead-letter budget, so not every invalid one was kept' : 'the invalid ones were dead-lettered';
    return new IngestError(
      IngestErrorCode.InvalidEvent,
      `${violations.length} invalid of ${received}${where}: ${first.message}; nothing was published, ${copies}`,
      { violations },
    );
  }

  private async publish(source: IngestSource, tenantId: string, events: Envelope[]): Promise<IngestReceipt> {
    // All or nothing, like validation: a batch with one instance over the tenant's quota publishes none.
    for (const event of events) {
      const adds = instanceStateOf(event);
      const refusal = adds === undefined ? null : this.admission.refusalOf(adds);
      if (refusal) {
        ingested.inc({ source, outcome: 'instance_quota' }, events.length);
        throw new IngestError(IngestErrorCode.InstanceQuotaExceeded, `${refusal.message}; nothing was published`);
      }
    }
    try {
      const acks = await Promise.all(events.map((event) => this.inFlight.run(tenantId, () => this.publisher.publish(event), publishOrder(event))));
      const duplicates = acks.filter((a) => a.duplicate).length;
      ingested.inc({ source, outcome: 'accepted' }, events.length - duplicates);
      if (duplicates > 0) ingested.inc({ source, outcome: 'duplicate' }, duplicates);
      return { accepted: events.length, duplicates, ids: events.map((e) => e.id) };
    } catch (error) {
      log.warn({ err: error, source }, 'ingest publish failed');
      // Some events may be stored already; a retry with the same ids is stored once.
      throw new IngestError(IngestErrorCode.Unavailable, 'the health stream did not acknowledge; retry the same request');
    }
  }

  private async deadLetter(source: IngestSource, tenantId: string, violation: IngestViolation, raw: unknown): Promise<'stored' | 'limited'> {
    const whole = typeof raw === 'string' ? raw : JSON.stringify(raw) ?? 'undefined';
    // The reason is what an operator needs; each refused body keeps at most this much (the
    // stream's per-subject limits then bound the tenant's share, see publishDeadLetter).
    const max = this.config.DETECTOR_INGEST_DEAD_LETTER_MAX_BYTES;
    const truncated = Buffer.byteLength(whole, 'utf8') > max;
    const payload = truncated ? Buffer.from(whole, 'utf8').subarray(0, max).toString('utf8') : whole;
    const record: DeadLetterRecord = {
      reason: 'invalid_payload',
      detail: violation.message,
      stream: STREAMS.health.name,
      consumer: source,
      subject: `POST /v1/tenants/${tenantId}/${source === 'alertmanager' ? 'alertmanager' : 'health-events'}`,
      streamSequence: 0,
      deliveries: 0,
      headers: {
        'Autoheal-Tenant': [tenantId],
        'Autoheal-Field': [violation.field],
        ...(violation.index === null ? {} : { 'Autoheal-Event-Index': [String(violation.index)] }),
        ...(truncated ? { [TRUNCATED_FROM_HEADER]: [String(Buffer.byteLength(whole, 'utf8'))] } : {}),
      },
      payload,
      payloadEncoding: 'utf8',
      deadLetteredAt: this.clock.now().toISOString(),
    };
    // The same invalid message sent again within the duplicate window is kept once.
    const msgID = `dl:${source}:${createHash('sha256').update(`${tenantId}\0${violation.message}\0${whole}`).digest('hex')}`;
    try {
      // Over the tenant's dead-letter budget it is counted, not stored; the producer is told why either way.
      return await this.inFlight.run(tenantId, () => publishDeadLetter(this.js, record, { consumer: source, tenantId, msgID }));
    } catch (error) {
      log.warn({ err: error, source }, 'dead-letter publish failed');
      // Without the copy the producer must keep its message: say "retry", not "invalid".
      throw new IngestError(IngestErrorCode.Unavailable, 'the message is invalid but could not be dead-lettered; retry later');
    }
  }
}
