import { Inject, Injectable, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RefusalTally, SYSTEM_TRAIL_ID, type RefusalRecord } from '@autoheal/access';
import { newEvent, type Envelope } from '@autoheal/contracts';
import { appendToOutbox } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import { CLOCK, type Clock } from '../clock.js';
import type { DecisionConfig } from '../config.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { decisionMetrics } from '../decision.metrics.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { DECISION_PRODUCER } from '../tenants/tenants.service.js';

const log = createLogger('decision');

/** How the refusals name this API in the system trail. */
export const ADMIN_API_NAME = 'decision admin API';

/**
 * The event recording one origin's refusals for one reason within one window: bound for the
 * auditor's system trail (`security.@system.access_refused`), never a tenant's — the tenant a
 * refused request names is the caller's claim, and recording it there would let anyone start a
 * chain for any name.
 */
export function accessRefusedEvent(record: RefusalRecord): Envelope<'security.access_refused'> {
  return newEvent('security.access_refused', {
    tenantId: SYSTEM_TRAIL_ID,
    producer: DECISION_PRODUCER,
    occurredAt: record.lastAt,
    data: {
      api: ADMIN_API_NAME,
      origin: record.origin.slice(0, 300),
      code: record.code.slice(0, 100),
      status: record.status === 401 ? 401 : 403,
      count: record.count,
      firstAt: record.firstAt.toISOString(),
      lastAt: record.lastAt.toISOString(),
      windowStart: record.windowStart.toISOString(),
    },
  });
}

/**
 * Refused admin requests (401/403) are audited, aggregated: the metric counts each one; one
 * `security.access_refused` event per origin (credential id, or remote address when no known
 * credential was presented) and reason per DECISION_REFUSAL_WINDOW_MS, with the count, goes
 * through the outbox to the auditor, which appends it to the system trail as `access.refused`.
 * A flood costs a counter increment per request and one event per window, never one per request.
 */
@Injectable()
export class AdminRefusals implements OnModuleInit, BeforeApplicationShutdown {
  private readonly tally: RefusalTally;
  private readonly windowMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DECISION_CONFIG) config: DecisionConfig,
  ) {
    this.windowMs = config.DECISION_REFUSAL_WINDOW_MS;
    this.tally = new RefusalTally(this.windowMs);
  }

  onModuleInit(): void {
    // A window closes when the next refusal arrives or, at the latest, at this tick.
    this.timer = setInterval(() => void this.record(this.tally.drain(this.clock.now())), Math.min(this.windowMs, 10_000));
    this.timer.unref();
  }

  /** Before the pools close (onApplicationShutdown): the last window goes to the outbox, relayed after the next boot if not before. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  refused(refusal: { origin: string; code: string; status: number }): void {
    decisionMetrics.adminRefused.inc({ code: refusal.code });
    void this.record(this.tally.record(refusal, this.clock.now()));
  }

  /** Records the current window now (tests; shutdown); returns what it recorded. */
  async flush(): Promise<RefusalRecord[]> {
    const records = this.tally.drain(this.clock.now(), true);
    await this.record(records);
    return records;
  }

  private async record(records: RefusalRecord[]): Promise<void> {
    if (records.length === 0) return;
    for (const r of records) {
      log.warn({ origin: r.origin, code: r.code, status: r.status, count: r.count, firstAt: r.firstAt, lastAt: r.lastAt }, 'admin API requests refused');
    }
    try {
      await this.db.transaction((m) => appendToOutbox(m, DECISION_SCHEMA, records.map(accessRefusedEvent)));
    } catch (error) {
      // Not retried: the counts are in the log lines above and the metric.
      log.error({ err: error, refusals: records.length }, 'could not record refused admin requests for the audit trail');
    }
  }
}
