import type { EntityManager } from 'typeorm';
import type { EscalationTarget } from './escalation-targets.js';

export interface DeliveryRow {
  id: number;
  tenantId: string;
  incidentId: string;
  target: string;
  kind: 'pagerduty' | 'webhook';
  url: string;
  secretRef: string | null;
  payload: Record<string, unknown>;
  attempts: number;
}

interface RawDelivery {
  id: string;
  tenant_id: string;
  incident_id: string;
  target: string;
  kind: 'pagerduty' | 'webhook';
  url: string;
  secret_ref: string | null;
  payload: Record<string, unknown>;
  attempts: number;
}

/** The only SQL about escalation deliveries. */
export const deliveriesRepository = {
  /** One delivery per incident and target: a second escalation of the same incident adds nothing. */
  async enqueue(m: EntityManager, tenantId: string, incidentId: string, items: { target: EscalationTarget; payload: Record<string, unknown> }[], now: Date): Promise<void> {
    for (const { target, payload } of items) {
      await m.query(
        `INSERT INTO decision.escalation_deliveries (tenant_id, incident_id, target, kind, url, secret_ref, payload, status, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, 'pending', $8, $8)
         ON CONFLICT (incident_id, target) DO NOTHING`,
        [tenantId, incidentId, target.name, target.kind, target.url, target.secretRef, JSON.stringify(payload), now],
      );
    }
  },

  /** Due deliveries, locked for this transaction; other workers skip them. */
  async claimDue(m: EntityManager, now: Date, limit: number): Promise<DeliveryRow[]> {
    const rows: RawDelivery[] = await m.query(
      `SELECT id, tenant_id, incident_id, target, kind, url, secret_ref, payload, attempts FROM decision.escalation_deliveries
       WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [now, limit],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      tenantId: r.tenant_id,
      incidentId: r.incident_id,
      target: r.target,
      kind: r.kind,
      url: r.url,
      secretRef: r.secret_ref,
      payload: r.payload,
      attempts: r.attempts,
    }));
  },

  async retryLater(m: EntityManager, id: number, attempts: number, next: Date, status: number | null, error: string): Promise<void> {
    await m.query(`UPDATE decision.escalation_deliveries SET attempts = $2, next_attempt_at = $3, last_status = $4, last_error = $5 WHERE id = $1`, [id, attempts, next, status, error]);
  },

  async finish(m: EntityManager, id: number, outcome: 'delivered' | 'failed', attempts: number, at: Date, status: number | null, error: string | null): Promise<void> {
    await m.query(
      `UPDATE decision.escalation_deliveries SET status = $2, attempts = $3, finished_at = $4, last_status = $5, last_error = $6 WHERE id = $1`,
      [id, outcome, attempts, at, status, error],
    );
  },
};
