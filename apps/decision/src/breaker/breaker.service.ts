import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { createLogger } from '@autoheal/telemetry';
import { CLOCK, type Clock } from '../clock.js';
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
      const resumed = await breakerRepository.resume(m, by, this.clock.now());
      if (resumed) log.warn({ by, reason, openedFor: before.reason }, 'circuit breaker resumed by a human');
      return { ...(await breakerRepository.read(m)), resumed };
    });
  }
}
