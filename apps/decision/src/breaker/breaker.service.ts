import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { mayAccessTenant, type TenantScope } from '@autoheal/access';
import { createLogger } from '@autoheal/telemetry';
import { AdminReads } from '../admin/admin-reads.js';
import { CLOCK, type Clock } from '../clock.js';
import { appendToOutbox } from '@autoheal/persistence';
import { DECISION_SCHEMA } from '../data-source.js';
import { remediationsRepository } from '../planning/remediations.repository.js';
import { tenantsRepository } from '../tenants/tenants.repository.js';
import { breakerResumedEvents } from './breaker-events.js';
import { breakerRepository, type BreakerState, type TenantBreakerState } from './breaker.repository.js';

const log = createLogger('decision');

/** The global breaker and every tenant breaker that ever opened (open ones first). */
export type BreakerOverview = BreakerState & { tenants: TenantBreakerState[] };

/** The circuit breakers as an operator sees them: read them, resume them. */
@Injectable()
export class BreakerService {
  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly reads: AdminReads,
  ) {}

  /**
   * The global breaker and the breakers of the tenants in `scope`: read on the admin API's read
   * pool, where row-level security shows only those tenants' rows.
   */
  async state(scope: TenantScope): Promise<BreakerOverview> {
    return this.reads.read(scope, null, async (m) => {
      const tenants = await breakerRepository.listTenants(m);
      // Row-level security has kept the others out already; this holds when the pool falls back to the service's role.
      return { ...(await breakerRepository.read(m)), tenants: tenants.filter((t) => mayAccessTenant({ tenantScope: scope }, t.tenantId)) };
    });
  }

  /** Closes the global breaker (waiting for decisions in progress); `resumed` is false when it was closed. */
  async resume(by: string, reason: string): Promise<BreakerState & { resumed: boolean }> {
    return this.db.transaction(async (m) => {
      await breakerRepository.lockExclusive(m);
      const before = await breakerRepository.read(m);
      const now = this.clock.now();
      const resumed = await breakerRepository.resume(m, by, now);
      if (resumed) {
        await appendToOutbox(m, DECISION_SCHEMA, breakerResumedEvents(await tenantsRepository.tenantIds(m), by, reason, now, before, 'global'));
        log.warn({ by, reason, openedFor: before.reason }, 'global circuit breaker resumed by a human');
      }
      return { ...(await breakerRepository.read(m)), resumed };
    });
  }

  /**
   * Closes one tenant's breaker, under the locks that tenant's decisions take (so a decision in
   * progress finishes first); `resumed` is false when it was not open — an unknown tenant
   * included, for which nothing is created. `by` is the actor as the caller authenticated it.
   */
  async resumeTenant(tenantId: string, by: string, reason: string): Promise<TenantBreakerState & { resumed: boolean }> {
    return this.db.transaction(async (m) => {
      await remediationsRepository.lockBreakerSharedThenTenant(m, tenantId);
      const before = await breakerRepository.readTenant(m, tenantId);
      const now = this.clock.now();
      const resumed = await breakerRepository.resumeTenant(m, tenantId, by, now);
      if (resumed) {
        await appendToOutbox(m, DECISION_SCHEMA, breakerResumedEvents([tenantId], by, reason, now, before, 'tenant'));
        log.warn({ tenantId, by, reason, openedFor: before.reason }, "tenant's circuit breaker resumed by a human");
      }
      return { ...(await breakerRepository.readTenant(m, tenantId)), resumed };
    });
  }
}
