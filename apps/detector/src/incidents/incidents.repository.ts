import type { EntityManager } from 'typeorm';
import type { IncidentKind, IncidentSeverity } from '@autoheal/contracts';
import type { InstanceRef } from '../heartbeat/heartbeat-tracker.js';

export interface OpenIncidentRow extends InstanceRef {
  incidentId: string;
  kind: IncidentKind;
  signalAt: Date;
  openedAt: Date;
  traceContext: Record<string, string>;
}

export interface NewIncidentRow extends OpenIncidentRow {
  severity: IncidentSeverity;
  evidence: Record<string, unknown>;
}

/** The only SQL about incidents. Every write takes the caller's transaction. */
export const incidentsRepository = {
  /** Inserts unless the instance already has an open incident of this kind; true when inserted. */
  async insertOpen(m: EntityManager, row: NewIncidentRow): Promise<boolean> {
    const inserted: unknown[] = await m.query(
      `INSERT INTO detector.incidents
         (incident_id, tenant_id, service, instance, kind, severity, status, signal_at, opened_at, evidence, trace_context)
       VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9, $10)
       ON CONFLICT (tenant_id, service, instance, kind) WHERE status = 'open' DO NOTHING
       RETURNING incident_id`,
      [row.incidentId, row.tenantId, row.service, row.instance, row.kind, row.severity, row.signalAt, row.openedAt, row.evidence, row.traceContext],
    );
    return inserted.length === 1;
  },

  /** Marks it resolved if it is still open; true when this call resolved it. */
  async markResolved(m: EntityManager, incidentId: string, resolvedAt: Date, reason: string): Promise<boolean> {
    const updated: unknown[] = await m.query(
      `UPDATE detector.incidents SET status = 'resolved', resolved_at = $2, resolve_reason = $3
       WHERE incident_id = $1 AND status = 'open' RETURNING incident_id`,
      [incidentId, resolvedAt, reason],
    );
    // pg returns [rows, count] for UPDATE … RETURNING through TypeORM.
    const rows = Array.isArray(updated[0]) ? (updated[0] as unknown[]) : updated;
    return rows.length === 1;
  },

  async findOpen(m: EntityManager): Promise<OpenIncidentRow[]> {
    const rows: {
      incident_id: string;
      tenant_id: string;
      service: string;
      instance: string;
      kind: IncidentKind;
      signal_at: Date;
      opened_at: Date;
      trace_context: Record<string, string>;
    }[] = await m.query(
      `SELECT incident_id, tenant_id, service, instance, kind, signal_at, opened_at, trace_context
       FROM detector.incidents WHERE status = 'open'`,
    );
    return rows.map((r) => ({
      incidentId: r.incident_id,
      tenantId: r.tenant_id,
      service: r.service,
      instance: r.instance,
      kind: r.kind,
      signalAt: r.signal_at,
      openedAt: r.opened_at,
      traceContext: r.trace_context,
    }));
  },
};
