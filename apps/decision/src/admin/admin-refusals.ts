import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { RefusalTally, type RefusalRecord } from '@autoheal/access';
import { createLogger } from '@autoheal/telemetry';
import { CLOCK, type Clock } from '../clock.js';
import type { DecisionConfig } from '../config.js';
import { decisionMetrics } from '../decision.metrics.js';
import { DECISION_CONFIG } from '../decision.tokens.js';

const log = createLogger('decision');

/**
 * Refused admin requests (401/403), aggregated: the metric counts each one, and one warning per
 * origin (credential id, or remote address when no known credential was presented) and reason
 * is logged per DECISION_REFUSAL_WINDOW_MS with the count. The admin API's refusals name no
 * tenant the service can trust, so they go to the log and the metric, not to a tenant's trail.
 */
@Injectable()
export class AdminRefusals implements OnModuleInit, OnApplicationShutdown {
  private readonly tally: RefusalTally;
  private readonly windowMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DECISION_CONFIG) config: DecisionConfig,
  ) {
    this.windowMs = config.DECISION_REFUSAL_WINDOW_MS;
    this.tally = new RefusalTally(this.windowMs);
  }

  onModuleInit(): void {
    this.timer = setInterval(() => this.report(this.tally.drain(this.clock.now())), Math.min(this.windowMs, 10_000));
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.flush();
  }

  refused(refusal: { origin: string; code: string; status: number }): void {
    decisionMetrics.adminRefused.inc({ code: refusal.code });
    this.report(this.tally.record(refusal, this.clock.now()));
  }

  /** Reports the current window now. */
  flush(): RefusalRecord[] {
    const records = this.tally.drain(this.clock.now(), true);
    this.report(records);
    return records;
  }

  private report(records: RefusalRecord[]): void {
    for (const r of records) {
      log.warn({ origin: r.origin, code: r.code, status: r.status, count: r.count, firstAt: r.firstAt, lastAt: r.lastAt }, 'admin API requests refused');
    }
  }
}
