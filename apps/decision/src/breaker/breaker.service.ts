import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { createLogger } from '@autoheal/telemetry';
import { CLOCK, type Clock } from '../clock.js';
import { appendToOutbox } from '@autoheal/persistence';
import { DECISION_SCHEMA } from '../data-source.js';
import { tenantsRepository } from '../tenants/tenants.repository.js';
import { breakerResumedEvents } from './breaker-events.js';
import { breakerRepository, type BreakerState } from './breaker.repository.js';

const log = createLogger('decision');

/** The global circuit breaker as an operator sees it: read it, resume it. */
@Injectable()
export class BreakerService {
  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async state(): Promise<BreakerState> {
    return breakerRepository.read(this.db.manager);
  }

  /** Closes the breaker (waiting for decisions in progress); `resumed` is false when it was closed. */
  async resume(by: string, reason: string): Promise<BreakerState & { resumed: boolean }> {
    return this.db.transaction(async (m) => {
      await breakerRepository.lockExclusive(m);
      const before = await breakerRepository.read(m);
      const now = this.clock.now();
      const resumed = await breakerRepository.resume(m, by, now);
      if (resumed) {
        await appendToOutbox(m, DECISION_SCHEMA, breakerResumedEvents(await tenantsRepository.tenantIds(m), by, reason, now, before));
        log.warn({ by, reason, openedFor: before.reason }, 'circuit breaker resumed by a human');
      }
      return { ...(await breakerRepository.read(m)), resumed };
    });
  }
}
