import type { EntityManager } from 'typeorm';
import type { IncidentKind, IncidentSeverity, SuspectedCause } from '@autoheal/contracts';
import { insertOutboxBatchSql, preparedStatement, queryPrepared, type OutboxBatch } from '@autoheal/persistence';
import type { FingerprintParts } from './lifecycle/lifecycle.types.js';

export interface OpenIncidentRow extends FingerprintParts {
  incidentId: string;
  fingerprint: string;
  scope: 'instance' | 'service';
  severity: IncidentSeverity;
  signalAt: Date;
  openedAt: Date;
  flapping: boolean;
  suspectedCause?: SuspectedCause;
  members?: string[];
  traceContext: Record<string, string>;
}

export interface NewIncidentRow extends OpenIncidentRow {
  evidence: Record<string, unknown>;
}

export interface IncidentChange {
  severity: IncidentSeverity;
  evidence: Record<string, unknown>;
  flapping: boolean;
  suspectedCause?: SuspectedCause;
  members?: string[];
  updatedAt: Date;
}

interface OpenRowRecord {
  incident_id: string;
  fingerprint: string;
  tenant_id: string;
  service: string;
  instance: string;
  kind: IncidentKind;
  rule_key: string;
  scope: 'instance' | 'service';
  severity: IncidentSeverity;
  signal_at: Date;
  opened_at: Date;
  flapping: boolean;
  suspected_cause: SuspectedCause | null;
  members: string[] | null;
  trace_context: Record<string, string>;
}

const OPEN_COLUMNS = `incident_id, fingerprint, tenant_id, service, instance, kind, rule_key, scope, severity, signal_at, opened_at,
  flapping, suspected_cause, members, trace_context`;

function toRow(r: OpenRowRecord): OpenIncidentRow {
  return {
    incidentId: r.incident_id,
    fingerprint: r.fingerprint,
    tenantId: r.tenant_id,
    service: r.service,
    instance: r.instance,
    kind: r.kind,
    ruleKey: r.rule_key,
    scope: r.scope,
    severity: r.severity,
    signalAt: r.signal_at,
    openedAt: r.opened_at,
    flapping: r.flapping,
    suspectedCause: r.suspected_cause ?? undefined,
    members: r.members ?? undefined,
    traceContext: r.trace_context,
  };
}

/**
 * A change and the outbox rows announcing it, in one statement: the rows go in only when the
 * change happened (`changed` returned a row). One round trip fewer per incident change than a
 * second INSERT, on the path every detection latency runs through.
 */
function withAnnouncement(changeSql: string, paramsSoFar: number): string {
  return `WITH changed AS (${changeSql}),
     announced AS (${insertOutboxBatchSql('detector', paramsSoFar + 1)} WHERE EXISTS (SELECT 1 FROM changed))
  SELECT incident_id FROM changed`;
}

// The three writes every detection goes through, prepared once per connection: Postgres then
// only binds and runs them.
const INSERT_OPEN = preparedStatement(
  'detector_incident_open',
  withAnnouncement(
    `INSERT INTO detector.incidents
       (incident_id, fingerprint, tenant_id, service, instance, kind, rule_key, scope, severity, status, signal_at, opened_at,
        evidence, trace_context, flapping, suspected_cause, members)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11, $12, $13, $14, $15, $16)
     ON CONFLICT (fingerprint) WHERE status = 'open' DO NOTHING
     RETURNING incident_id`,
    16,
  ),
);
const UPDATE_OPEN = preparedStatement(
  'detector_incident_update',
  withAnnouncement(
    `UPDATE detector.incidents
       SET severity = $2, evidence = $3, flapping = $4, suspected_cause = $5, members = $6, updated_at = $7
     WHERE incident_id = $1 AND status = 'open' RETURNING incident_id`,
    7,
  ),
);
const RESOLVE_OPEN = preparedStatement(
  'detector_incident_resolve',
  withAnnouncement(
    `UPDATE detector.incidents SET status = 'resolved', resolved_at = $2, resolve_reason = $3
     WHERE incident_id = $1 AND status = 'open' RETURNING incident_id`,
    3,
  ),
);

/** The only SQL about incidents. Every write takes the caller's transaction. */
export const incidentsRepository = {
  /**
   * Inserts unless the fingerprint already has an open incident, and with it the outbox rows of
   * `announce`; true when inserted (the caller then hands the rows on, see outboxBatchStored).
   */
  async insertOpen(m: EntityManager, row: NewIncidentRow, announce: OutboxBatch): Promise<boolean> {
    const inserted = await queryPrepared(m, INSERT_OPEN, [
      row.incidentId,
      row.fingerprint,
      row.tenantId,
      row.service,
      row.instance,
      row.kind,
      row.ruleKey,
      row.scope,
      row.severity,
      row.signalAt,
      row.openedAt,
      row.evidence,
      row.traceContext,
      row.flapping,
      row.suspectedCause ?? null,
      row.members === undefined ? null : JSON.stringify(row.members),
      ...announce.params,
    ]);
    return inserted.length === 1;
  },

  /** Applies a change to a still-open incident, announced by `announce`'s rows; true when it was open. */
  async update(m: EntityManager, incidentId: string, change: IncidentChange, announce: OutboxBatch): Promise<boolean> {
    const updated = await queryPrepared(m, UPDATE_OPEN, [
      incidentId,
      change.severity,
      change.evidence,
      change.flapping,
      change.suspectedCause ?? null,
      change.members === undefined ? null : JSON.stringify(change.members),
      change.updatedAt,
      ...announce.params,
    ]);
    return updated.length === 1;
  },

  /** Marks it resolved if it is still open, announced by `announce`'s rows; true when this call resolved it. */
  async markResolved(m: EntityManager, incidentId: string, resolvedAt: Date, reason: string, announce: OutboxBatch): Promise<boolean> {
    const resolved = await queryPrepared(m, RESOLVE_OPEN, [incidentId, resolvedAt, reason, ...announce.params]);
    return resolved.length === 1;
  },

  async findOpen(m: EntityManager): Promise<OpenIncidentRow[]> {
    const rows: OpenRowRecord[] = await m.query(`SELECT ${OPEN_COLUMNS} FROM detector.incidents WHERE status = 'open'`);
    return rows.map(toRow);
  },

  async findOpenByFingerprint(m: EntityManager, fingerprint: string): Promise<OpenIncidentRow | undefined> {
    const rows: OpenRowRecord[] = await m.query(`SELECT ${OPEN_COLUMNS} FROM detector.incidents WHERE status = 'open' AND fingerprint = $1`, [fingerprint]);
    return rows.length === 0 ? undefined : toRow(rows[0]);
  },
};
