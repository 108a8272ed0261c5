import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { newEventId } from '@autoheal/contracts';
import { RefusalTally, type RefusalRecord } from '@autoheal/access';
import { createLogger } from '@autoheal/telemetry';
import { auditLogRepository } from '../audit-log/audit-log.repository.js';
import { auditorMetrics } from '../auditor.metrics.js';
import { AUDITOR_CONFIG } from '../auditor.tokens.js';
import { CLOCK, type Clock } from '../clock.js';
import type { AuditorConfig } from '../config.js';
import { refusalEntry } from './api-key-records.js';
import { ROW_SEALER, type RowSealer } from '../evidence/row-sealer.js';

const log = createLogger('auditor');

/**
 * Refused requests (401/403) are audited, aggregated: one row per origin (credential id, or remote
 * address when no known credential was presented) and reason per AUDITOR_REFUSAL_WINDOW_MS, with
 * the count, in the system trail. A flood costs a counter increment per request and one row per
 * window, never a row per request. The metric counts every refusal as it happens.
 */
@Injectable()
export class AccessRefusals implements OnModuleInit, OnApplicationShutdown {
  private readonly tally: RefusalTally;
  private readonly windowMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDITOR_CONFIG) config: AuditorConfig,
    @Inject(ROW_SEALER) private readonly sealer: RowSealer,
  ) {
    this.tally = new RefusalTally(config.AUDITOR_REFUSAL_WINDOW_MS);
    this.windowMs = config.AUDITOR_REFUSAL_WINDOW_MS;
  }

  onModuleInit(): void {
    // A window closes when the next refusal arrives or, at the latest, at this tick.
    this.timer = setInterval(() => void this.write(this.tally.drain(this.clock.now())), Math.min(this.windowMs, 10_000));
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.write(this.tally.drain(this.clock.now(), true));
  }

  refused(refusal: { origin: string; code: string; status: number }): void {
    auditorMetrics.accessRefused.inc({ code: refusal.code });
    void this.write(this.tally.record(refusal, this.clock.now()));
  }

  /** Writes closed windows now (tests; shutdown). */
  async flush(): Promise<void> {
    await this.write(this.tally.drain(this.clock.now(), true));
  }

  private async write(records: RefusalRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      await this.db.transaction(async (m) => {
        for (const record of records) await auditLogRepository.append(m, refusalEntry(record, newEventId(record.lastAt.getTime())), null, this.sealer);
      });
    } catch (error) {
      // Not retried: the counts are in the log line and the metric.
      log.error({ err: error, refusals: records }, 'could not record refused requests in the audit trail');
    }
  }
}
