import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { newEvent, type Envelope } from '@autoheal/contracts';
import { appendToOutbox } from '@autoheal/persistence';
import { CLOCK, type Clock } from '../clock.js';
import type { DecisionConfig } from '../config.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { decisionMetrics } from '../decision.metrics.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { DECISION_PRODUCER } from '../planning/decision-events.js';
import { thresholdSources } from '../planning/policy-port.js';
import { PeriodicTask } from '../periodic-task.js';
import { profileOf } from '../tenants/tenants.service.js';
import { availabilityRepository } from './availability.repository.js';
import { availabilityBreachReason, availabilityVerdict, measureAvailability } from './availability.js';

/**
 * Every DECISION_COMPLIANCE_INTERVAL_MS, measures the availability of the services that may have
 * crossed their tenant's availability target over the last DECISION_AVAILABILITY_WINDOW_MS (see
 * availability.ts for the definition) and reports a fall below it as `compliance.breach` (rule
 * `availability`), once per breach: the breach stays recorded in `service_availability` until a
 * check finds the service back at its target. One transaction per tick, under an advisory lock
 * that other processes skip, so every process may run the check and each breach is reported once.
 */
@Injectable()
export class AvailabilityCheckService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly task = new PeriodicTask('availability check', () => this.check());

  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DECISION_CONFIG) private readonly config: DecisionConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start(this.config.DECISION_COMPLIANCE_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    this.task.stop();
  }

  /** Returns the events emitted. */
  async check(limit = 1000): Promise<Envelope<'compliance.breach'>[]> {
    return this.db.transaction(async (m) => {
      if (!(await availabilityRepository.tryLockCheck(m))) return [];
      const now = this.clock.now();
      const windowMs = this.config.DECISION_AVAILABILITY_WINDOW_MS;
      const since = new Date(now.getTime() - windowMs);
      const events: Envelope<'compliance.breach'>[] = [];
      for (const s of await availabilityRepository.servicesToMeasure(m, limit)) {
        // Without a document there is no target to measure against; its incidents settle all the same.
        if (s.document && s.policyVersion) {
          const target = profileOf(s.document).availabilityTarget;
          const inventory = s.document.inventory.services.find((x) => x.service === s.service)?.instances.map((i) => i.instance) ?? [];
          const records = await availabilityRepository.downtimeIn(m, s.tenantId, s.service, since, now);
          const measured = measureAvailability(records, inventory, { start: since.getTime(), end: now.getTime() });
          const verdict = availabilityVerdict(measured, target, s.breachedAt !== null);
          let breachedAt = s.breachedAt;
          switch (verdict) {
            case 'ok':
              break;
            case 'recovered':
              breachedAt = null;
              break;
            case 'breach':
              breachedAt = now;
              events.push(
                newEvent('compliance.breach', {
                  tenantId: s.tenantId,
                  producer: DECISION_PRODUCER,
                  // No single incident caused it: the breach belongs to the service, not to one incident.
                  correlationId: null,
                  occurredAt: now,
                  data: {
                    rule: 'availability',
                    service: s.service,
                    observed: measured.availability,
                    threshold: target,
                    windowMs,
                    reason: availabilityBreachReason(s.service, measured, target, thresholdSources(s.document.frameworks, s.document.overrides, 'availabilityTarget', target)),
                    policyVersion: s.policyVersion,
                  },
                }),
              );
              decisionMetrics.compliance.inc({ type: 'availability_breach' });
              break;
            default: {
              const unreachable: never = verdict;
              throw new Error(`unhandled verdict ${String(unreachable)}`);
            }
          }
          await availabilityRepository.saveMeasurement(m, s.tenantId, s.service, measured.availability, now, breachedAt);
        }
        await availabilityRepository.settle(m, s.tenantId, s.service, now);
      }
      await appendToOutbox(m, DECISION_SCHEMA, events);
      return events;
    });
  }
}
