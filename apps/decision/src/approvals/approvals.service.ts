import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { mayAccessTenant, type Principal } from '@autoheal/access';
import { appendToOutbox } from '@autoheal/persistence';
import { createLogger } from '@autoheal/telemetry';
import { CLOCK, type Clock } from '../clock.js';
import type { DecisionConfig } from '../config.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { DECISION_CONFIG } from '../decision.tokens.js';
import { remediationsRepository, type RemediationRow } from '../planning/remediations.repository.js';
import { approvalTimedOutEvent, approvedEvent, rejectedEvent } from './approval-events.js';
import { ApprovalsError, ApprovalsErrorCode } from './approvals.errors.js';
import { PeriodicTask } from '../periodic-task.js';
import { enqueueEscalationOf } from '../escalations/escalation-targets.js';

const log = createLogger('decision');

/**
 * Approvals over the admin API: an approved remediation is announced as `remediation.approved`
 * (the executor runs it), a rejected one as `remediation.rejected`. A sweeper escalates the ones
 * nobody settled before their deadline. The row moves out of `awaiting_approval` exactly once,
 * whichever of the three gets there first.
 */
@Injectable()
export class ApprovalsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly task = new PeriodicTask('approval sweep', () => this.sweep());

  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DECISION_CONFIG) private readonly config: DecisionConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start(this.config.DECISION_SWEEP_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    this.task.stop();
  }

  /** `reviewer` is the authenticated credential: its subject is recorded as who approved, and its scope must cover the remediation's tenant. */
  async approve(remediationId: string, reviewer: Principal, reason: string): Promise<RemediationRow> {
    return this.settle(remediationId, 'approved', reviewer, reason);
  }

  async reject(remediationId: string, reviewer: Principal, reason: string): Promise<RemediationRow> {
    return this.settle(remediationId, 'rejected', reviewer, reason);
  }

  private async settle(remediationId: string, to: 'approved' | 'rejected', reviewer: Principal, reason: string): Promise<RemediationRow> {
    const by = reviewer.subject;
    return this.db.transaction(async (m) => {
      const now = this.clock.now();
      const row = await remediationsRepository.findById(m, remediationId, true);
      if (!row) throw new ApprovalsError(ApprovalsErrorCode.NotFound, `remediation ${remediationId} does not exist`);
      // Before anything else is said about it: a credential of another tenant learns only that it may not.
      if (!mayAccessTenant(reviewer, row.tenantId)) throw new ApprovalsError(ApprovalsErrorCode.TenantForbidden, `remediation ${remediationId} belongs to a tenant outside this credential's scope`);
      if (row.status !== 'awaiting_approval') throw new ApprovalsError(ApprovalsErrorCode.NotAwaitingApproval, `remediation ${remediationId} is ${row.status}, not awaiting approval`);
      if (row.expiresAt && row.expiresAt <= now) throw new ApprovalsError(ApprovalsErrorCode.NotAwaitingApproval, `remediation ${remediationId}'s approval expired at ${row.expiresAt.toISOString()}`);
      const updated = await remediationsRepository.review(m, remediationId, to, by, now, `${to} by ${by}: ${reason}`);
      if (!updated) throw new ApprovalsError(ApprovalsErrorCode.NotAwaitingApproval, `remediation ${remediationId} is no longer awaiting approval`);
      // A rejected remediation no longer holds a slot on its service.
      if (to === 'rejected') await remediationsRepository.hastenDeferrals(m, updated.tenantId, updated.service, now);
      await appendToOutbox(m, DECISION_SCHEMA, [to === 'approved' ? approvedEvent(updated, by, now) : rejectedEvent(updated, by, reason, now)]);
      log.info({ remediationId, by, credential: reviewer.id, to }, 'approval settled');
      return updated;
    });
  }

  /** Escalates approvals past their deadline; returns how many. Safe to run in every process. */
  async sweep(limit = 100): Promise<number> {
    return this.db.transaction(async (m) => {
      const now = this.clock.now();
      const expired = await remediationsRepository.claimExpiredApprovals(m, now, limit);
      for (const row of expired) {
        const updated = await remediationsRepository.review(m, row.remediationId, 'escalated', 'system', now, 'approval timed out');
        if (!updated) continue;
        await remediationsRepository.hastenDeferrals(m, updated.tenantId, updated.service, now);
        const escalated = approvalTimedOutEvent(updated, now);
        await appendToOutbox(m, DECISION_SCHEMA, [escalated]);
        await enqueueEscalationOf(m, escalated, updated.incident.severity, now);
      }
      if (expired.length > 0) log.warn({ count: expired.length }, 'approvals timed out; escalated');
      return expired.length;
    });
  }
}
