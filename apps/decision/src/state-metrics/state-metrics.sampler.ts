import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CLOCK, type Clock } from '../clock.js';
import type { DecisionConfig } from '../config.js';
import { decisionMetrics } from '../decision.metrics.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { PeriodicTask } from '../periodic-task.js';
import { stateMetricsRepository } from './state-metrics.repository.js';
import { stateFigures, type StateFigures } from './state-metrics.js';

/**
 * Every DECISION_METRICS_INTERVAL_MS, reads the breakers, the approvals waiting and the incident
 * downtime of the availability window, and sets the state gauges from them. Sampled, not read
 * per scrape: availability integrates a month of incidents, more than a scrape should wait for.
 * Every process samples; the figures come from the shared tables, so they agree.
 */
@Injectable()
export class StateMetricsSampler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly task = new PeriodicTask('state metrics', () => this.sample());

  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DECISION_CONFIG) private readonly config: DecisionConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start(this.config.DECISION_METRICS_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    this.task.stop();
  }

  async sample(): Promise<StateFigures> {
    const now = this.clock.now();
    const windowMs = this.config.DECISION_AVAILABILITY_WINDOW_MS;
    const snapshot = await this.db.transaction('REPEATABLE READ', (m) => stateMetricsRepository.snapshot(m, new Date(now.getTime() - windowMs), now));
    const figures = stateFigures(snapshot, now, windowMs);
    setGauges(figures);
    return figures;
  }
}

function setGauges(f: StateFigures): void {
  const m = decisionMetrics;
  m.breakerOpen.set(f.globalBreakerOpen);
  // Reset first: a tenant removed since the last sample must not keep its old series.
  for (const gauge of [m.tenantBreakerOpen, m.pendingApprovals, m.oldestPendingApproval, m.serviceAvailability, m.availabilityTarget]) gauge.reset();
  for (const { tenant, open } of f.tenantBreakerOpen) m.tenantBreakerOpen.set({ tenant }, open);
  for (const { tenant, pending, oldestAgeSeconds } of f.approvals) {
    m.pendingApprovals.set({ tenant }, pending);
    m.oldestPendingApproval.set({ tenant }, oldestAgeSeconds);
  }
  for (const { tenant, service, ratio } of f.availability) m.serviceAvailability.set({ tenant, tenant_service: service }, ratio);
  for (const { tenant, target } of f.targets) m.availabilityTarget.set({ tenant }, target);
}
