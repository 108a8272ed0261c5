import type { EntityManager } from 'typeorm';
import { EMPTY_HEAD, type ChainedRow, type ChainHead, type JsonValue, type Outcome } from './hash-chain.js';

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
   * Drops to the application role for the rest of the transaction, so whatever this service
   * does next is limited to INSERT and SELECT. `role` is validated at boot (identifier only).
   */
  async assumeRole(manager: EntityManager, role: string): Promise<void> {
    if (role) await manager.query(`SET LOCAL ROLE "${role}"`);
  },

  /** Serializes writers of one tenant's chain until the transaction ends. */
  async lockChain(manager: EntityManager, tenantId: string): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtext('autoheal.audit_log'), hashtext($1))`, [tenantId]);
  },

  async head(manager: EntityManager, tenantId: string): Promise<ChainHead> {
    const rows: { seq: string; hash: string }[] = await manager.query(
      `SELECT seq, hash FROM auditor.audit_log WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1`,
      [tenantId],
    );
    return rows.length ? { seq: Number(rows[0].seq), hash: rows[0].hash } : EMPTY_HEAD;
  },

  /** False when a row for the event already exists (the event was recorded before). */
  async insert(manager: EntityManager, row: ChainedRow): Promise<boolean> {
    const inserted: unknown[] = await manager.query(
      `INSERT INTO auditor.audit_log (${COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14, $15::jsonb, $16, $17)
       ON CONFLICT (event_id) DO NOTHING
       RETURNING seq`,
      [
        row.tenantId,
        row.seq,
        row.eventId,
        row.eventType,
        row.occurredAt,
        row.recordedAt,
        row.actor,
        row.action,
        JSON.stringify(row.resource),
        row.outcome,
        row.source,
        row.correlationId,
        row.causationId,
        row.traceId,
        JSON.stringify(row.payload),
        row.prevHash,
        row.hash,
      ],
    );
    return inserted.length === 1;
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
