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
import type { TenantDocument } from '../planning/policy-port.js';
import { profileOf } from '../tenants/tenants.service.js';
import { ttrVerdict } from './ttr-check.js';
import { PeriodicTask } from '../periodic-task.js';

interface OpenRow {
  remediation_id: string;
  incident_id: string;
  tenant_id: string;
  service: string;
  instance: string;
  opened_at: Date;
  ttr_at_risk_at: Date | null;
  breach_at: Date | null;
  document: TenantDocument | null;
  policy_version: string | null;
}

/**
 * Periodically compares open, unremediated incidents with their tenant's maximum time to
 * remediate: `compliance.ttr_at_risk` once the at-risk share has passed, `compliance.breach`
 * once the limit has. Rows are claimed with SKIP LOCKED and marked in the same transaction as
 * the event, so every process may run the check and each event is emitted once.
 */
@Injectable()
export class ComplianceCheckService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly task = new PeriodicTask('compliance check', () => this.check());

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
  async check(limit = 500): Promise<Envelope[]> {
    return this.db.transaction(async (m) => {
      const now = this.clock.now();
      // Time to remediate counts to verification: an incident whose fix is still holding for its
      // verify window (resolved, not yet verified) is still being remediated.
      const rows: OpenRow[] = await m.query(
        `SELECT r.remediation_id, r.incident_id, r.tenant_id, r.service, r.instance, r.opened_at, r.ttr_at_risk_at, r.breach_at, t.document, t.policy_version
         FROM decision.remediations r LEFT JOIN decision.tenants t ON t.tenant_id = r.tenant_id
         WHERE (r.incident_resolved_at IS NULL OR r.hold_until IS NOT NULL) AND r.status <> 'verified' AND r.breach_at IS NULL AND r.opened_at IS NOT NULL
         ORDER BY r.opened_at LIMIT $1 FOR UPDATE OF r SKIP LOCKED`,
        [limit],
      );
      const events: Envelope[] = [];
      for (const row of rows) {
        if (!row.document || !row.policy_version) continue;
        const { maxTimeToRemediateMs } = profileOf(row.document);
        const openedAt = row.opened_at.getTime();
        const verdict = ttrVerdict({ openedAt, maxTimeToRemediateMs, atRiskAlready: row.ttr_at_risk_at !== null, breachedAlready: false }, now.getTime(), this.config.DECISION_TTR_AT_RISK_SHARE);
        const meta = { tenantId: row.tenant_id, producer: DECISION_PRODUCER, correlationId: row.incident_id, occurredAt: now };
        const deadline = new Date(openedAt + maxTimeToRemediateMs);
        switch (verdict) {
          case 'ok':
            continue;
          case 'at_risk':
            await m.query(`UPDATE decision.remediations SET ttr_at_risk_at = $2 WHERE remediation_id = $1`, [row.remediation_id, now]);
            events.push(
              newEvent('compliance.ttr_at_risk', {
                ...meta,
                data: { incidentId: row.incident_id, service: row.service, instance: row.instance, openedAt: row.opened_at.toISOString(), deadlineAt: deadline.toISOString(), maxTimeToRemediateMs, policyVersion: row.policy_version },
              }),
            );
            break;
          case 'breach':
            await m.query(`UPDATE decision.remediations SET breach_at = $2 WHERE remediation_id = $1`, [row.remediation_id, now]);
            events.push(
              newEvent('compliance.breach', {
                ...meta,
                data: {
                  rule: 'time_to_remediate',
                  incidentId: row.incident_id,
                  service: row.service,
                  observed: now.getTime() - openedAt,
                  threshold: maxTimeToRemediateMs,
                  reason: `incident open for ${now.getTime() - openedAt} ms without a successful remediation; the limit is ${maxTimeToRemediateMs} ms`,
                  policyVersion: row.policy_version,
                },
              }),
            );
            break;
          default: {
            const unreachable: never = verdict;
            throw new Error(`unhandled verdict ${String(unreachable)}`);
          }
        }
        decisionMetrics.compliance.inc({ type: verdict });
      }
      await appendToOutbox(m, DECISION_SCHEMA, events);
      return events;
    });
  }
}
