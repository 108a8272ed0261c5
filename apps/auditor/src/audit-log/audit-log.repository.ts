import type { EntityManager } from 'typeorm';
import type { AuditEntry } from './audit-entry.js';
import type { ChainedRow, JsonValue, Outcome } from './hash-chain.js';

/** Columns in the order ChainedRow is built from. */
const COLUMNS = `tenant_id, seq, event_id, event_type, occurred_at, recorded_at, actor, action, resource, outcome,
  source, correlation_id, causation_id, trace_id, payload, prev_hash, hash`;

interface AuditLogRecord {
  tenant_id: string;
  seq: string;
  event_id: string;
  event_type: string;
  occurred_at: Date;
  recorded_at: Date;
  actor: string;
  action: string;
  resource: JsonValue;
  outcome: Outcome;
  source: string;
  correlation_id: string | null;
  causation_id: string | null;
  trace_id: string | null;
  payload: JsonValue;
  prev_hash: string;
  hash: string;
}

function toRow(r: AuditLogRecord): ChainedRow {
  return {
    tenantId: r.tenant_id,
    seq: Number(r.seq),
    eventId: r.event_id,
    eventType: r.event_type,
    occurredAt: r.occurred_at.toISOString(),
    recordedAt: r.recorded_at.toISOString(),
    actor: r.actor,
    action: r.action,
    resource: r.resource,
    outcome: r.outcome,
    source: r.source,
    correlationId: r.correlation_id,
    causationId: r.causation_id,
    traceId: r.trace_id,
    payload: r.payload,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export interface AuditLogFilter {
  afterSeq: number;
  limit: number;
  /** Exact event type, or a prefix when it ends with a dot. */
  type?: string;
  /** occurred_at >= from */
  from?: Date;
  /** occurred_at < to */
  to?: Date;
  correlationId?: string;
}

/** The only SQL of the audit log. Every function runs in the caller's transaction. */
export const auditLogRepository = {
  /**
   * Places an entry at the end of its tenant's chain. The database does it
   * (`auditor.append_audit_entry`): it takes the tenant's lock, reads the head and computes seq,
   * prev_hash and hash itself, so this service cannot choose them. False when a row for the event
   * already exists (the event was recorded before).
   */
  async append(manager: EntityManager, entry: AuditEntry, traceId: string | null): Promise<boolean> {
    const appended: unknown[] = await manager.query(
      `SELECT appended_seq FROM auditor.append_audit_entry($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13::jsonb)`,
      [
        entry.tenantId,
        entry.eventId,
        entry.eventType,
        entry.occurredAt,
        entry.actor,
        entry.action,
        entry.outcome,
        JSON.stringify(entry.resource),
        entry.source,
        entry.correlationId,
        entry.causationId,
        traceId,
        JSON.stringify(entry.payload),
      ],
    );
    return appended.length === 1;
  },

  /** One page in ascending seq; asks for one row more than `limit` so the caller knows whether more follow. */
  async list(manager: EntityManager, tenantId: string, filter: AuditLogFilter): Promise<ChainedRow[]> {
    const params: unknown[] = [tenantId, filter.afterSeq];
    const where = ['tenant_id = $1', 'seq > $2'];
    const add = (sql: (n: number) => string, value: unknown) => {
      params.push(value);
      where.push(sql(params.length));
    };
    if (filter.type !== undefined) {
      if (filter.type.endsWith('.')) add((n) => `starts_with(event_type, $${n})`, filter.type);
      else add((n) => `event_type = $${n}`, filter.type);
    }
    if (filter.from) add((n) => `occurred_at >= $${n}`, filter.from);
    if (filter.to) add((n) => `occurred_at < $${n}`, filter.to);
    if (filter.correlationId !== undefined) add((n) => `correlation_id = $${n}`, filter.correlationId);
    params.push(filter.limit + 1);
    const rows: AuditLogRecord[] = await manager.query(
      `SELECT ${COLUMNS} FROM auditor.audit_log WHERE ${where.join(' AND ')} ORDER BY seq ASC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toRow);
  },

  /** Rows of the chain after `afterSeq`, for verification in batches. */
  async chainBatch(manager: EntityManager, tenantId: string, afterSeq: number, limit: number): Promise<ChainedRow[]> {
    const rows: AuditLogRecord[] = await manager.query(
      `SELECT ${COLUMNS} FROM auditor.audit_log WHERE tenant_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3`,
      [tenantId, afterSeq, limit],
    );
    return rows.map(toRow);
  },
};
