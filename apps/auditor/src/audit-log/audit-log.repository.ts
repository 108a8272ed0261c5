import type { EntityManager } from 'typeorm';
import { canonicalJson } from '@autoheal/contracts';
import { preparedStatement, queryPrepared, setTenantScope, type PreparedStatement } from '@autoheal/persistence';
import type { RowSealer } from '../evidence/row-sealer.js';
import { signedPointsRepository } from '../evidence/signed-points.repository.js';
import type { AuditEntry } from './audit-entry.js';
import type { ChainedRow, ChainHead, EvidenceRow, JsonValue, Outcome, VerifiedPoint } from './hash-chain.js';

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

/**
 * Whose rows a transaction may see: every tenant's (an ops credential) or one tenant's. Row-level
 * security on `audit_log` and `verify_points` holds every query to it (migration 1766200000000).
 */
export type ReadScope = { kind: 'all' } | { kind: 'tenant'; tenantId: string };

const listStatements = new Map<string, PreparedStatement>();

/** One named statement per text of `list` (the texts differ only by which filters are present). */
function listStatement(text: string): PreparedStatement {
  let statement = listStatements.get(text);
  if (!statement) {
    statement = preparedStatement(`auditor_audit_list_${listStatements.size}`, text);
    listStatements.set(text, statement);
  }
  return statement;
}

/*
 * The statements a verification runs, prepared: each reads every monthly partition, and planning
 * such a query costs more than running it (see listStatement). A tenant verifying every minute
 * runs each of them once a minute on some connection of the read pool.
 */
const HEAD = preparedStatement('auditor_audit_head', `SELECT seq, hash FROM auditor.audit_log WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1`);
const ROW_AT = preparedStatement('auditor_audit_row_at', `SELECT ${COLUMNS} FROM auditor.audit_log WHERE tenant_id = $1 AND seq = $2`);
const VERIFIED_POINT = preparedStatement('auditor_verified_point', `SELECT seq, hash, verified_at, full_verified_at FROM auditor.verify_points WHERE tenant_id = $1`);
const CHAIN_BATCH = preparedStatement(
  'auditor_audit_chain_batch',
  `SELECT ${COLUMNS.split(',').map((c) => `l.${c.trim()}`).join(', ')},
          s.from_seq AS seal_from_seq, s.head_hash AS seal_hash, s.signed_at AS seal_signed_at, s.key_id AS seal_key_id, s.signature AS seal_signature
     FROM auditor.audit_log l LEFT JOIN auditor.audit_seals s ON s.tenant_id = l.tenant_id AND s.seq = l.seq
    WHERE l.tenant_id = $1 AND l.seq > $2 AND l.seq <= $3 ORDER BY l.seq ASC LIMIT $4`,
);

/** The only SQL of the audit log. Every function runs in the caller's transaction. */
export const auditLogRepository = {
  /**
   * Sets the transaction's tenant scope (transaction-local, like SET LOCAL): row-level security
   * then shows it only `scope`'s rows, whatever a query's own filter says. `tenantId` is the
   * tenant the transaction works on; an ops scope sees every tenant.
   */
  async setScope(manager: EntityManager, scope: ReadScope, tenantId: string): Promise<void> {
    // A tenant credential sees its own tenant (never the path's); an ops one every tenant, working on `tenantId`.
    await setTenantScope(manager, scope.kind === 'all' ? '*' : [scope.tenantId], scope.kind === 'all' ? tenantId : scope.tenantId);
  },

  /** Whether the tenant has a chain at all (reads of a tenant without one record nothing). */
  async hasChain(manager: EntityManager, tenantId: string): Promise<boolean> {
    const rows: unknown[] = await manager.query(`SELECT 1 FROM auditor.audit_log WHERE tenant_id = $1 LIMIT 1`, [tenantId]);
    return rows.length > 0;
  },

  /** The tenant's last row, or null for a tenant without a chain. */
  async head(manager: EntityManager, tenantId: string): Promise<ChainHead | null> {
    const rows = await queryPrepared<{ seq: string; hash: string }>(manager, HEAD, [tenantId]);
    return rows.length === 0 ? null : { seq: Number(rows[0].seq), hash: rows[0].hash };
  },

  async rowAt(manager: EntityManager, tenantId: string, seq: number): Promise<ChainedRow | null> {
    const rows = await queryPrepared<AuditLogRecord>(manager, ROW_AT, [tenantId, seq]);
    return rows.length === 0 ? null : toRow(rows[0]);
  },

  async verifiedPoint(manager: EntityManager, tenantId: string): Promise<VerifiedPoint | null> {
    const rows = await queryPrepared<{ seq: string; hash: string; verified_at: Date; full_verified_at: Date }>(manager, VERIFIED_POINT, [tenantId]);
    if (rows.length === 0) return null;
    const r = rows[0];
    return { seq: Number(r.seq), hash: r.hash, verifiedAt: r.verified_at.toISOString(), fullVerifiedAt: r.full_verified_at.toISOString() };
  },

  /**
   * Moves the tenant's verified point forward (never back: a slower, older verification does not
   * undo a newer one). A verification from the first row (`full`) also stamps `full_verified_at`,
   * at the same seq too; an incremental one keeps the stamp it found.
   */
  async saveVerifiedPoint(manager: EntityManager, tenantId: string, point: { seq: number; hash: string; verifiedAt: string }, full: boolean): Promise<void> {
    await manager.query(
      `INSERT INTO auditor.verify_points (tenant_id, seq, hash, verified_at, full_verified_at) VALUES ($1, $2, $3, $4, $4)
       ON CONFLICT (tenant_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, verified_at = EXCLUDED.verified_at,
         full_verified_at = CASE WHEN $5 THEN EXCLUDED.full_verified_at ELSE verify_points.full_verified_at END
       WHERE verify_points.seq < EXCLUDED.seq OR ($5 AND verify_points.seq = EXCLUDED.seq)`,
      [tenantId, point.seq, point.hash, point.verifiedAt, full],
    );
  },

  /**
   * Places an entry at the end of its tenant's chain: `appendBatch` of one entry. False when a
   * row for the event already exists (the event was recorded before).
   */
  async append(manager: EntityManager, entry: AuditEntry, traceId: string | null, sealer: RowSealer): Promise<boolean> {
    const [appended] = await auditLogRepository.appendBatch(manager, [{ entry, traceId }], sealer);
    return appended;
  },

  /**
   * Places entries at the end of their tenants' chains, in order (for each tenant, in the order
   * its entries are given). The database does it (`auditor.append_audit_entries`): it takes each
   * tenant's lock once, reads the head and computes seq, prev_hash and hash itself, so this
   * service cannot choose them. Then the service seals the rows it appended, one seal per tenant
   * over the range appended for it (its signature over tenant, first and last seq and the last
   * hash; one statement for the batch, in the same transaction): a row outside every valid seal's
   * range was not appended by the auditor. One result per entry: false when a row for its
   * event already exists (the event was recorded before).
   */
  async appendBatch(manager: EntityManager, entries: readonly { entry: AuditEntry; traceId: string | null }[], sealer: RowSealer): Promise<boolean[]> {
    if (entries.length === 0) return [];
    const column = <V>(f: (e: AuditEntry, traceId: string | null) => V) => entries.map(({ entry, traceId }) => f(entry, traceId));
    const appended: { entry_index: number; appended_seq: string; appended_hash: string }[] = await manager.query(
      `SELECT entry_index, appended_seq, appended_hash FROM auditor.append_audit_entries(
         $1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])`,
      [
        column((e) => e.tenantId),
        column((e) => e.eventId),
        column((e) => e.eventType),
        column((e) => e.occurredAt),
        column((e) => e.actor),
        column((e) => e.action),
        column((e) => e.outcome),
        column((e) => canonicalJson(e.resource)),
        column((e) => e.source),
        column((e) => e.correlationId),
        column((e) => e.causationId),
        column((_, traceId) => traceId),
        column((e) => canonicalJson(e.payload)),
      ],
    );
    const result = entries.map(() => false);
    // One seal per tenant over the rows appended for it here: they are consecutive in its chain (its lock is held).
    const ranges = new Map<string, { fromSeq: number; seq: number; hash: string; rows: number }>();
    for (const row of appended) {
      const { entry } = entries[row.entry_index - 1];
      result[row.entry_index - 1] = true;
      const seq = Number(row.appended_seq);
      const range = ranges.get(entry.tenantId);
      if (range) Object.assign(range, { seq, hash: row.appended_hash, rows: range.rows + 1 });
      else ranges.set(entry.tenantId, { fromSeq: seq, seq, hash: row.appended_hash, rows: 1 });
    }
    const seals = [...ranges].map(([tenantId, r]) => sealer.seal(tenantId, r.fromSeq, r.seq, r.hash));
    await signedPointsRepository.insertSeals(manager, seals);
    for (const [tenantId, r] of ranges) for (let i = 0; i < r.rows; i++) sealer.noteAppended(tenantId);
    return result;
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
    const text = `SELECT ${COLUMNS} FROM auditor.audit_log WHERE ${where.join(' AND ')} ORDER BY seq ASC LIMIT $${params.length}`;
    // Prepared per combination of filters (at most 16 texts per connection): planning a query over
    // every monthly partition costs more than running it, and a prepared one is planned once.
    const rows = await queryPrepared<AuditLogRecord>(manager, listStatement(text), params);
    return rows.map(toRow);
  },

  /** Rows of the chain after `afterSeq` up to `untilSeq`, each with the seal stored at it (the last row of a seal's range), for verification and export in batches (keyset pagination by seq). */
  async chainBatch(manager: EntityManager, tenantId: string, afterSeq: number, untilSeq: number, limit: number): Promise<EvidenceRow[]> {
    const rows = await queryPrepared<
      AuditLogRecord & {
        seal_from_seq: string | null;
        seal_hash: string | null;
        seal_signed_at: Date | null;
        seal_key_id: string | null;
        seal_signature: string | null;
      }
    >(manager, CHAIN_BATCH, [tenantId, afterSeq, untilSeq, limit]);
    return rows.map((r) => {
      const row = toRow(r);
      const seal =
        r.seal_hash === null || r.seal_signed_at === null || r.seal_key_id === null || r.seal_signature === null
          ? null
          : {
              tenantId: row.tenantId,
              ...(r.seal_from_seq === null ? {} : { fromSeq: Number(r.seal_from_seq) }),
              seq: row.seq,
              headHash: r.seal_hash,
              signedAt: r.seal_signed_at.toISOString(),
              keyId: r.seal_key_id,
              signature: r.seal_signature,
            };
      return { ...row, seal };
    });
  },

  /** The seq range of rows recorded in [from, to) (recorded_at grows with seq, so the range is contiguous); null bounds are open. */
  async seqRange(manager: EntityManager, tenantId: string, from: Date | null, to: Date | null): Promise<{ fromSeq: number; toSeq: number }> {
    const rows: { from_seq: string | null; to_seq: string | null }[] = await manager.query(
      `SELECT (SELECT min(seq) FROM auditor.audit_log WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR recorded_at >= $2)) AS from_seq,
              (SELECT max(seq) FROM auditor.audit_log WHERE tenant_id = $1 AND ($3::timestamptz IS NULL OR recorded_at < $3)) AS to_seq`,
      [tenantId, from, to],
    );
    const fromSeq = rows[0].from_seq === null ? null : Number(rows[0].from_seq);
    const toSeq = rows[0].to_seq === null ? null : Number(rows[0].to_seq);
    if (fromSeq === null || toSeq === null || toSeq < fromSeq) return { fromSeq: fromSeq ?? 1, toSeq: (fromSeq ?? 1) - 1 };
    return { fromSeq, toSeq };
  },
};
