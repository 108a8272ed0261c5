import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { newEvent } from '@autoheal/contracts';
import { appendToOutbox } from '@autoheal/persistence';
import { CLOCK, type Clock } from '../clock.js';
import type { DecisionConfig } from '../config.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { decisionMetrics } from '../decision.metrics.js';
import { DECISION_CONFIG, SECRET_RESOLVER } from '../decision.tokens.js';
import { DECISION_PRODUCER } from '../planning/decision-events.js';
import { deliveriesRepository, type DeliveryRow } from './deliveries.repository.js';
import { classifyResponse, nextAttemptDelay, signBody, SIGNATURE_HEADER, TIMESTAMP_HEADER, type AttemptResult } from './delivery-policy.js';
import { PeriodicTask } from '../periodic-task.js';

/** Resolves a document's `secretRef` to the secret (by default: the environment variable of that name). */
export type SecretResolver = (ref: string) => string | undefined;
export const envSecretResolver: SecretResolver = (ref) => process.env[ref];

/**
 * Delivers escalations to PagerDuty-compatible endpoints and signed webhooks. Deliveries are
 * rows, so a restart resumes them; each due row is claimed with SKIP LOCKED, so several
 * processes share the work without sending twice. The final outcome is announced as
 * `remediation.escalation_delivered` in the same transaction that records it.
 */
@Injectable()
export class DeliveriesWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly task = new PeriodicTask('escalation delivery', () => this.tick());

  constructor(
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DECISION_CONFIG) private readonly config: DecisionConfig,
    @Inject(SECRET_RESOLVER) private readonly secrets: SecretResolver,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start(this.config.DECISION_DELIVERY_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    this.task.stop();
  }

  /** Attempts every due delivery once; returns how many were attempted. */
  async tick(limit = 20): Promise<number> {
    return this.db.transaction(async (m) => {
      const due = await deliveriesRepository.claimDue(m, this.clock.now(), limit);
      const results = await Promise.all(due.map((d) => this.attempt(d)));
      for (const [i, delivery] of due.entries()) {
        const result = results[i];
        const attempts = delivery.attempts + 1;
        const now = this.clock.now();
        const final = result.ok || !result.retryable || attempts >= this.config.DECISION_DELIVERY_MAX_ATTEMPTS;
        if (!final) {
          await deliveriesRepository.retryLater(m, delivery.id, attempts, new Date(now.getTime() + nextAttemptDelay(attempts, this.config.DECISION_DELIVERY_BACKOFF_MS)), result.status, result.error);
          continue;
        }
        const outcome = result.ok ? 'delivered' : 'failed';
        await deliveriesRepository.finish(m, delivery.id, outcome, attempts, now, result.status, result.ok ? null : result.error);
        await appendToOutbox(m, DECISION_SCHEMA, [
          newEvent('remediation.escalation_delivered', {
            tenantId: delivery.tenantId,
            producer: DECISION_PRODUCER,
            correlationId: delivery.incidentId,
            occurredAt: now,
            data: {
              incidentId: delivery.incidentId,
              target: delivery.target,
              kind: delivery.kind,
              outcome,
              attempts,
              dedupKey: delivery.incidentId,
              ...(result.status !== null ? { status: result.status } : {}),
              ...(result.ok ? {} : { error: result.error.slice(0, 1000) }),
            },
          }),
        ]);
        decisionMetrics.deliveries.inc({ kind: delivery.kind, outcome });
      }
      return due.length;
    });
  }

  private async attempt(delivery: DeliveryRow): Promise<AttemptResult> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    // The credential is resolved now and lives only in the request: rows, events and the audit
    // trail hold the secret's name.
    const secret = delivery.secretRef ? this.secrets(delivery.secretRef) : undefined;
    if (!secret) return { ok: false, status: null, error: `secret ${delivery.secretRef ?? '(none)'} is not configured`, retryable: false };
    let body: string;
    switch (delivery.kind) {
      case 'webhook': {
        const sentAt = this.clock.now().toISOString();
        // The timestamp is inside the signed body too, so a receiver can refuse replays.
        body = JSON.stringify({ ...delivery.payload, sentAt });
        headers[TIMESTAMP_HEADER] = sentAt;
        headers[SIGNATURE_HEADER] = signBody(secret, body);
        break;
      }
      case 'pagerduty':
        body = JSON.stringify({ routing_key: secret, ...delivery.payload });
        break;
      default: {
        const unreachable: never = delivery.kind;
        throw new Error(`unhandled delivery kind ${String(unreachable)}`);
      }
    }
    try {
      const response = await fetch(delivery.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.config.DECISION_DELIVERY_TIMEOUT_MS) });
      await response.arrayBuffer();
      return classifyResponse(response.status);
    } catch (error) {
      return { ok: false, status: null, error: (error as Error).message, retryable: true };
    }
  }
}
