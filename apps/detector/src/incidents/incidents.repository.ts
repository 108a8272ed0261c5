import type { EntityManager } from 'typeorm';
import type { IncidentKind, IncidentSeverity, SuspectedCause } from '@autoheal/contracts';
import { insertOutboxBatchSql, preparedStatement, queryPrepared, type OutboxBatch, type PreparedStatement } from '@autoheal/persistence';
import { DETECTOR_SCHEMA } from '../data-source.js';
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
 * Changes to several incidents and the outbox rows announcing them, in one statement:
 * `changeSql` changes the incidents whose ids are `$1` (uuid[]) and returns the ids it changed;
 * the outbox gets the row of each of those (the batch's row i announces the change to `$1[i]`),
 * in the batch's order. One round trip for a whole burst of changes instead of two per change.
 */
function withAnnouncements(changeSql: string, paramsSoFar: number): string {
  return `WITH changed AS (${changeSql}),
     announced AS (${insertOutboxBatchSql(DETECTOR_SCHEMA, paramsSoFar + 1)} JOIN changed ON changed.incident_id = ($1::uuid[])[e.n] ORDER BY e.n)
  SELECT incident_id FROM changed`;
}

// The three writes every detection goes through, prepared once per connection: Postgres then
// only binds and runs them, for one incident or a burst alike.
const INSERT_OPEN = preparedStatement(
  'detector_incidents_open',
  withAnnouncements(
    `INSERT INTO detector.incidents
       (incident_id, fingerprint, tenant_id, service, instance, kind, rule_key, scope, severity, status, signal_at, opened_at,
        evidence, trace_context, flapping, suspected_cause, members)
     SELECT r.incident_id, r.fingerprint, r.tenant_id, r.service, r.instance, r.kind, r.rule_key, r.scope, r.severity, 'open', r.signal_at,
            r.opened_at, r.evidence, r.trace_context, r.flapping, r.suspected_cause, r.members
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                   $10::timestamptz[], $11::timestamptz[], $12::jsonb[], $13::jsonb[], $14::boolean[], $15::text[], $16::jsonb[])
         AS r(incident_id, fingerprint, tenant_id, service, instance, kind, rule_key, scope, severity, signal_at, opened_at,
              evidence, trace_context, flapping, suspected_cause, members)
     ON CONFLICT (fingerprint) WHERE status = 'open' DO NOTHING
     RETURNING incident_id`,
    16,
  ),
);
const UPDATE_OPEN = preparedStatement(
  'detector_incidents_update',
  withAnnouncements(
    `UPDATE detector.incidents i
       SET severity = c.severity, evidence = c.evidence, flapping = c.flapping, suspected_cause = c.suspected_cause,
           members = c.members, updated_at = c.updated_at
       FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::boolean[], $5::text[], $6::jsonb[], $7::timestamptz[])
         AS c(incident_id, severity, evidence, flapping, suspected_cause, members, updated_at)
     WHERE i.incident_id = c.incident_id AND i.status = 'open' RETURNING i.incident_id`,
    7,
  ),
);
const RESOLVE_OPEN = preparedStatement(
  'detector_incidents_resolve',
  withAnnouncements(
    `UPDATE detector.incidents i SET status = 'resolved', resolved_at = c.resolved_at, resolve_reason = c.reason
       FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS c(incident_id, resolved_at, reason)
     WHERE i.incident_id = c.incident_id AND i.status = 'open' RETURNING i.incident_id`,
    3,
  ),
);

/** A change to an open incident: its new severity, evidence and flags. */
export interface IncidentUpdate extends IncidentChange {
  incidentId: string;
}

export interface IncidentResolution {
  incidentId: string;
  resolvedAt: Date;
  reason: string;
}

const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));

/** Ids of the incidents a statement changed, from its RETURNING rows. */
async function changedIds(m: EntityManager, statement: PreparedStatement, params: unknown[]): Promise<Set<string>> {
  const rows = await queryPrepared<{ incident_id: string }>(m, statement, params);
  return new Set(rows.map((r) => r.incident_id));
}

/**
 * The only SQL about incidents. Every write takes the caller's transaction and a list of
 * incidents, and `announce`, whose row i announces the change to the list's item i: it is
 * stored only if that change happened. Each returns the ids of the incidents it changed (the
 * caller then hands their rows on, see outboxRowsStored).
 */
export const incidentsRepository = {
  /** Inserts each row unless its fingerprint already has an open incident. */
  insertOpen(m: EntityManager, rows: readonly NewIncidentRow[], announce: OutboxBatch): Promise<Set<string>> {
    return changedIds(m, INSERT_OPEN, [
      rows.map((r) => r.incidentId),
      rows.map((r) => r.fingerprint),
      rows.map((r) => r.tenantId),
      rows.map((r) => r.service),
      rows.map((r) => r.instance),
      rows.map((r) => r.kind),
      rows.map((r) => r.ruleKey),
      rows.map((r) => r.scope),
      rows.map((r) => r.severity),
      rows.map((r) => r.signalAt),
      rows.map((r) => r.openedAt),
      rows.map((r) => json(r.evidence)),
      rows.map((r) => json(r.traceContext)),
      rows.map((r) => r.flapping),
      rows.map((r) => r.suspectedCause ?? null),
      rows.map((r) => json(r.members)),
      ...announce.params,
    ]);
  },

  /** Applies each change to its incident if that is still open. */
  update(m: EntityManager, changes: readonly IncidentUpdate[], announce: OutboxBatch): Promise<Set<string>> {
    return changedIds(m, UPDATE_OPEN, [
      changes.map((c) => c.incidentId),
      changes.map((c) => c.severity),
      changes.map((c) => json(c.evidence)),
      changes.map((c) => c.flapping),
      changes.map((c) => c.suspectedCause ?? null),
      changes.map((c) => json(c.members)),
      changes.map((c) => c.updatedAt),
      ...announce.params,
    ]);
  },

  /** Marks each incident resolved if it is still open. */
  markResolved(m: EntityManager, resolutions: readonly IncidentResolution[], announce: OutboxBatch): Promise<Set<string>> {
    return changedIds(m, RESOLVE_OPEN, [resolutions.map((r) => r.incidentId), resolutions.map((r) => r.resolvedAt), resolutions.map((r) => r.reason), ...announce.params]);
  },

  async findOpen(m: EntityManager): Promise<OpenIncidentRow[]> {
    const rows: OpenRowRecord[] = await m.query(`SELECT ${OPEN_COLUMNS} FROM detector.incidents WHERE status = 'open'`);
    return rows.map(toRow);
  },

  async findOpenByFingerprints(m: EntityManager, fingerprints: readonly string[]): Promise<OpenIncidentRow[]> {
    const rows: OpenRowRecord[] = await m.query(`SELECT ${OPEN_COLUMNS} FROM detector.incidents WHERE status = 'open' AND fingerprint = ANY($1::text[])`, [fingerprints]);
    return rows.map(toRow);
  },
};
