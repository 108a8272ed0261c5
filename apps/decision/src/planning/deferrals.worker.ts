import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { createLogger } from '@autoheal/telemetry';
import { CLOCK, type Clock } from '../clock.js';
import type { DecisionConfig } from '../config.js';
import { decisionMetrics } from '../decision.metrics.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import type { PolicyDecision } from './policy-port.js';
import { remediationsRepository } from './remediations.repository.js';
import { announceDecision, decidedFields, takeDecision } from './take-decision.js';
import { PeriodicTask } from '../periodic-task.js';

const log = createLogger('decision');

export interface Redecision {
  incidentId: string;
  remediationId: string;
  kind: PolicyDecision['kind'];
  /** False for a deferral checked again on unchanged grounds: the row moved on, nothing was published. */
  announced: boolean;
  /** The rule behind the first refusal, when one refused. */
  refusedBy?: string;
}

/**
 * Decides deferred incidents again once they are due (the cooldown ended, the recheck interval
 * passed, or a remediation on the service finished). Each due row is claimed with SKIP LOCKED and
 * decided in its own transaction under the same locks as a new decision (the breaker's, shared,
 * and the tenant's), from the incident facts it stored, so the caps hold across processes and
 * every process may run the worker. The row is updated in place (same remediation id) and the
 * resulting events leave through the outbox in the same transaction.
 */
@Injectable()
export class DeferralsWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly task = new PeriodicTask('deciding deferred incidents again', () => this.tick());

  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DECISION_CONFIG) private readonly config: DecisionConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start(this.config.DECISION_DEFER_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    this.task.stop();
  }

  /** Decides up to `limit` due deferrals again, one transaction each; returns what became of them. */
  async tick(limit = 50): Promise<Redecision[]> {
    const done: Redecision[] = [];
    while (done.length < limit) {
      const result = await this.db.transaction((m) => this.redecideNext(m));
      if (!result) break;
      done.push(result);
      const fields = { incidentId: result.incidentId, remediationId: result.remediationId, outcome: result.kind };
      if (!result.announced) {
        log.debug(fields, 'deferred incident checked again; still deferred');
        continue;
      }
      decisionMetrics.decisions.inc({ outcome: result.kind });
      if (result.kind === 'escalate' && result.refusedBy) decisionMetrics.refusals.inc({ rule: result.refusedBy });
      log.info(fields, 'deferred incident decided again');
    }
    return done;
  }

  private async redecideNext(m: EntityManager): Promise<Redecision | null> {
    const row = await remediationsRepository.claimDueDeferral(m, this.clock.now());
    if (!row) return null;
    // The row lock is taken first: nothing that waits on a deferred row's lock holds these two.
    await remediationsRepository.lockBreakerSharedThenTenant(m, row.tenantId);
    const now = this.clock.now();
    const since = row.deferredAt?.getTime() ?? row.decidedAt.getTime();
    // A deferred fallback: the attempts that failed before it are tried already.
    const tried = (await remediationsRepository.attemptsOf(m, row.incidentId)).map((a) => a.action);
    const taken = await takeDecision(m, row.tenantId, row.incident, now, { recheckMs: this.config.DECISION_DEFER_RECHECK_MS, since }, tried);
    const { decision, record } = taken;
    const updated = await remediationsRepository.redecide(m, row.remediationId, decidedFields(taken, now, row.deferredAt));
    // Unreachable while the row is locked; the status condition is the guarantee.
    if (!updated) return null;
    // Still deferred for the same reason: the row moved on, the audit trail has that deferral already.
    const announced = !(decision.kind === 'defer' && record.refusalRule === row.refusalRule);
    const subject = { tenantId: row.tenantId, incidentId: row.incidentId, service: row.service, instance: row.instance, causationId: row.incidentEventId };
    await announceDecision(m, taken, { subject, severity: row.incident.severity, remediationId: row.remediationId, now, events: announced });
    return { incidentId: row.incidentId, remediationId: row.remediationId, kind: decision.kind, announced, ...(record.refusalRule ? { refusedBy: record.refusalRule } : {}) };
  }
}
