import type { EntityManager } from 'typeorm';
import type { CandidateConsidered, Envelope, RemediationAction } from '@autoheal/contracts';
import type { ExecutionSpec } from '../policy/execution-spec.js';
import { assertInTransaction, insertOutboxBatchSql, preparedStatement, queryPrepared, type OutboxBatch } from '@autoheal/persistence';
import { BREAKER_LOCK, breakerWindowFromRaw, tenantWindowSql, type BreakerWindow, type RawBreakerWindow } from '../breaker/breaker.repository.js';
import { DECISION_SCHEMA } from '../data-source.js';
import { tenantFromRaw, type RawTenant, type StoredTenant } from '../tenants/tenants.repository.js';
import type { InventoryStanding } from './policy-port.js';

export type RemediationStatus =
  | 'planned'
  | 'dry_run'
  | 'awaiting_approval'
  | 'approved'
  | 'rejected'
  | 'escalated'
  | 'held'
  | 'succeeded'
  | 'failed'
  /** Refused only by pacing guardrails; decided again at `retry_at`. Takes no capacity. */
  | 'deferred'
  /** Was deferred when the incident resolved: closed without action. */
  | 'resolved'
  /** The driver reported success; the incident has until `verify_deadline` to resolve. */
  | 'verifying'
  /** The incident resolved after the action: the remediation worked. */
  | 'verified';

/**
 * Statuses of a remediation that may still act on the service (the concurrency cap counts these).
 * One being verified still holds its slot: until the incident resolves, its fix is not proven.
 */
export const IN_FLIGHT_STATUSES: readonly RemediationStatus[] = ['planned', 'awaiting_approval', 'approved', 'verifying'];

/** The incident as the policy saw it; stored so that a backtest can replay the decision. */
export interface IncidentFacts {
  incidentId: string;
  kind: string;
  severity: string;
  service: string;
  instance: string;
  suspectedCause?: string;
  scope?: 'instance' | 'service';
  openedAt: number;
}

export interface RemediationRow {
  remediationId: string;
  incidentId: string;
  tenantId: string;
  service: string;
  instance: string;
  action: string | null;
  status: RemediationStatus;
  reason: string;
  policyVersion: string;
  candidates: CandidateConsidered[];
  refusalRule: string | null;
  incidentEventId: string;
  plannedAt: Date | null;
  decidedAt: Date;
  incident: IncidentFacts;
  openedAt: Date;
  suspectedCause: string | null;
  decisionKind: string;
  explanation: Record<string, unknown> | null;
  fallbacks: string[];
  emergency: boolean;
  expiresAt: Date | null;
  /** A plan's runtime, parameters and verification; null for other decisions and for rows made before plans carried them. */
  execution: ExecutionSpec | null;
  /** Set exactly while verifying: when the incident must have resolved by. */
  verifyDeadline: Date | null;
  /** When the driver reported the outcome. */
  outcomeAt: Date | null;
  incidentResolvedAt: Date | null;
  /** Set only while verifying with a verify window, once the incident resolved: when the target's health has held long enough. */
  holdUntil: Date | null;
  /** A new incident on the target that broke a hold; the fallback replacing the failed remediation is verified by its resolution. */
  relapseIncidentId: string | null;
  /** Set exactly while deferred: when the decision is taken again. */
  retryAt: Date | null;
  /** When the incident was first deferred; kept afterwards. */
  deferredAt: Date | null;
}

/** A new decision's row: nothing has happened to it yet. */
export type NewRemediationRow = Omit<RemediationRow, 'verifyDeadline' | 'outcomeAt' | 'incidentResolvedAt' | 'holdUntil' | 'relapseIncidentId'>;

/** An earlier attempt of an incident: it failed and a fallback took its place on the row. */
export interface FailedAttempt {
  remediationId: string;
  action: RemediationAction;
  error: { code: string; message: string } | null;
}

/** What a decision sets on its row; a deferred incident's row is decided again in place. */
export type DecisionFields = Pick<
  RemediationRow,
  | 'action'
  | 'status'
  | 'reason'
  | 'policyVersion'
  | 'candidates'
  | 'refusalRule'
  | 'plannedAt'
  | 'decidedAt'
  | 'decisionKind'
  | 'explanation'
  | 'fallbacks'
  | 'emergency'
  | 'expiresAt'
  | 'retryAt'
  | 'deferredAt'
  | 'execution'
>;

interface RawRow {
  remediation_id: string;
  incident_id: string;
  tenant_id: string;
  service: string;
  instance: string;
  action: string | null;
  status: RemediationStatus;
  reason: string;
  policy_version: string;
  candidates: CandidateConsidered[];
  refusal_rule: string | null;
  incident_event_id: string;
  planned_at: Date | null;
  decided_at: Date;
  incident: IncidentFacts;
  opened_at: Date | null;
  suspected_cause: string | null;
  decision_kind: string | null;
  explanation: Record<string, unknown> | null;
  fallbacks: string[];
  emergency: boolean;
  expires_at: Date | null;
  retry_at: Date | null;
  deferred_at: Date | null;
  execution: ExecutionSpec | null;
  verify_deadline: Date | null;
  outcome_at: Date | null;
  incident_resolved_at: Date | null;
  hold_until: Date | null;
  relapse_incident_id: string | null;
}

const COLUMNS = `remediation_id, incident_id, tenant_id, service, instance, action, status, reason, policy_version,
  candidates, refusal_rule, incident_event_id, planned_at, decided_at, incident, opened_at, suspected_cause, decision_kind,
  explanation, fallbacks, emergency, expires_at, retry_at, deferred_at, execution, verify_deadline, outcome_at, incident_resolved_at,
  hold_until, relapse_incident_id`;

/**
 * Advisory-lock class for "one tenant's decisions": the two-key lock space is separate from
 * the one-key space the migrations and the outbox relay use.
 */
const TENANT_DECISION_LOCK = 0x64656331;

function fromRaw(r: RawRow): RemediationRow {
  return {
    remediationId: r.remediation_id,
    incidentId: r.incident_id,
    tenantId: r.tenant_id,
    service: r.service,
    instance: r.instance,
    action: r.action,
    status: r.status,
    reason: r.reason,
    policyVersion: r.policy_version,
    candidates: r.candidates,
    refusalRule: r.refusal_rule,
    incidentEventId: r.incident_event_id,
    plannedAt: r.planned_at,
    decidedAt: r.decided_at,
    incident: r.incident,
    openedAt: r.opened_at ?? r.decided_at,
    suspectedCause: r.suspected_cause,
    decisionKind: r.decision_kind ?? r.status,
    explanation: r.explanation,
    fallbacks: r.fallbacks,
    emergency: r.emergency,
    expiresAt: r.expires_at,
    retryAt: r.retry_at,
    deferredAt: r.deferred_at,
    execution: r.execution,
    verifyDeadline: r.verify_deadline,
    outcomeAt: r.outcome_at,
    incidentResolvedAt: r.incident_resolved_at,
    holdUntil: r.hold_until,
    relapseIncidentId: r.relapse_incident_id,
  };
}

/** TypeORM hands back `[rows, count]` for UPDATE … RETURNING and plain rows for the rest. */
function returnedRows<T>(result: unknown): T[] {
  const list = result as unknown[];
  return (Array.isArray(list[0]) ? list[0] : list) as T[];
}

/**
 * Parameters $2…$17 of the statements that set a decision on a row (a deferral decided again,
 * a fallback after a failure): action, status, reason, policy_version, candidates, refusal_rule,
 * planned_at, decided_at, decision_kind, explanation, fallbacks, emergency, expires_at, retry_at,
 * deferred_at, execution — in that order.
 */
function decisionParams(d: DecisionFields): unknown[] {
  return [
    d.action,
    d.status,
    d.reason,
    d.policyVersion,
    JSON.stringify(d.candidates),
    d.refusalRule,
    d.plannedAt,
    d.decidedAt,
    d.decisionKind,
    d.explanation ? JSON.stringify(d.explanation) : null,
    JSON.stringify(d.fallbacks),
    d.emergency,
    d.expiresAt,
    d.retryAt,
    d.deferredAt,
    d.execution ? JSON.stringify(d.execution) : null,
  ];
}

/** What a decision reads under its locks (see remediationsRepository.decisionState). */
export interface DecisionState {
  /** The tenant's current document; null without one. */
  tenant: StoredTenant | null;
  /** The breaker that holds the tenant's decisions: the global one when open, else the tenant's own. */
  breaker: { open: boolean; reason: string | null; scope: 'global' | 'tenant' | null };
  /** Automatic actions planned for the tenant after `hourAgo`, failed attempts included. */
  autoActionsInLastHour: number;
  /** Remediations that may still act on the service. */
  inFlightOnService: number;
  /** The last automatic action on the target since `cooldownSince` and how many there were. */
  lastActionOnTarget: { at: number; consecutive: number } | undefined;
  /** The remediation the incident has already, if any. */
  existingRemediationId: string | null;
}

/** A decision's inputs as read by decisionStateSql. */
type RawDecisionState = Partial<RawTenant> & {
  breaker_open: boolean;
  breaker_reason: string | null;
  tenant_breaker_open: boolean;
  tenant_breaker_reason: string | null;
  auto_actions: string;
  in_flight: number;
  last_at: Date | null;
  last_n: number;
  existing_remediation_id: string | null;
};

/**
 * The in-flight statuses as SQL literals. Written into the statement, not passed as a parameter:
 * a prepared statement's generic plan cannot prove that a parameter matches the predicate of
 * the partial index remediations_in_flight_idx, and would scan the table.
 */
const IN_FLIGHT_SQL = IN_FLIGHT_STATUSES.map((s) => `'${s}'`).join(', ');

/**
 * What remediationsRepository.decisionState reads, in one statement; parameters $1…$6 (tenant,
 * service, instance, incident, an hour ago, the cooldown's look-back).
 * `extra` joins more columns onto its single row (the breaker's window, for an opened incident).
 */
function decisionStateSql(extra?: { columns: string; join: string }): string {
  return `SELECT b.open AS breaker_open, b.reason AS breaker_reason,
         coalesce(tb.open, false) AS tenant_breaker_open, tb.reason AS tenant_breaker_reason,
         t.tenant_id, t.document, t.policy_version, t.applied_by, t.updated_at,
         (SELECT count(*) FROM decision.remediations WHERE tenant_id = $1 AND planned_at > $5)
           + (SELECT count(*) FROM decision.remediation_attempts WHERE tenant_id = $1 AND planned_at > $5) AS auto_actions,
         (SELECT count(*)::int FROM decision.remediations WHERE tenant_id = $1 AND service = $2 AND status IN (${IN_FLIGHT_SQL})) AS in_flight,
         last.at AS last_at, last.n AS last_n,
         (SELECT remediation_id FROM decision.remediations WHERE incident_id = $4) AS existing_remediation_id${extra ? `,
         ${extra.columns}` : ''}
       FROM decision.breaker b
       LEFT JOIN decision.tenant_breakers tb ON tb.tenant_id = $1
       LEFT JOIN decision.tenants t ON t.tenant_id = $1
       CROSS JOIN (
         SELECT max(planned_at) AS at, count(*)::int AS n FROM (
           SELECT planned_at FROM decision.remediations WHERE tenant_id = $1 AND service = $2 AND instance = $3 AND planned_at > $6
           UNION ALL
           SELECT planned_at FROM decision.remediation_attempts WHERE tenant_id = $1 AND service = $2 AND instance = $3 AND planned_at > $6
         ) AS actions
       ) AS last${extra ? `
       ${extra.join}` : ''}
       WHERE b.id = 1`;
}

function decisionStateFromRaw(row: RawDecisionState): DecisionState {
  return {
    tenant: row.tenant_id ? tenantFromRaw(row as RawTenant) : null,
    breaker: row.breaker_open
      ? { open: true, reason: row.breaker_reason, scope: 'global' }
      : row.tenant_breaker_open
        ? { open: true, reason: row.tenant_breaker_reason, scope: 'tenant' }
        : { open: false, reason: null, scope: null },
    autoActionsInLastHour: Number(row.auto_actions),
    inFlightOnService: row.in_flight,
    lastActionOnTarget: row.last_at ? { at: row.last_at.getTime(), consecutive: row.last_n } : undefined,
    existingRemediationId: row.existing_remediation_id,
  };
}

/** What decisionState counts, and for whom. */
export interface DecisionStateQuery {
  tenantId: string;
  service: string;
  instance: string;
  incidentId: string;
  hourAgo: Date;
  cooldownSince: Date;
}

function decisionStateParams(q: DecisionStateQuery): unknown[] {
  return [q.tenantId, q.service, q.instance, q.incidentId, q.hourAgo, q.cooldownSince];
}

// The statements every decision runs, prepared once per connection (see preparedStatement).

const LOCK_BREAKER_SHARED_THEN_TENANT = preparedStatement(
  'decision_lock_breaker_shared_then_tenant',
  `SELECT pg_advisory_xact_lock($2::int, hashtext($3)) FROM (SELECT pg_advisory_xact_lock_shared($1::bigint)) AS breaker`,
);

/**
 * An incident.opened's first statement: the inbox claim, then (only when it claimed) the
 * incident recorded for availability, the breaker's shared lock and the tenant's lock. Each step
 * reads the row the one before returned, so they run in that order, the order a decision has
 * always taken them in (the inbox row first: a redelivery waiting on it holds no lock yet). The
 * breaker's lock is taken in a subquery that is volatile, so never flattened: it comes first.
 * No row when the event was claimed before.
 */
const CLAIM_RECORD_AND_LOCK = preparedStatement(
  'decision_claim_record_and_lock',
  `WITH claimed AS (
     INSERT INTO decision.inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING event_id
   ), recorded AS (
     INSERT INTO decision.incident_downtime (incident_id, tenant_id, service, instance, kind, down_since, suspected_cause)
     SELECT $3::uuid, $4::text, $5::text, $6::text, $7::text, $8::timestamptz, $9::text FROM claimed
     ON CONFLICT (incident_id) DO UPDATE SET kind = EXCLUDED.kind, down_since = EXCLUDED.down_since,
       suspected_cause = coalesce(decision.incident_downtime.suspected_cause, EXCLUDED.suspected_cause)
     RETURNING incident_id
   )
   SELECT pg_advisory_xact_lock($11::int, hashtext($4)) FROM (SELECT pg_advisory_xact_lock_shared($10::bigint) FROM recorded) AS breaker`,
);

const DECISION_STATE = preparedStatement('decision_state', decisionStateSql());

const OPENED_DECISION_STATE = preparedStatement(
  'decision_state_with_breaker_window',
  decisionStateSql({
    columns: 'w.global_open, w.tenant_open, w.global_reason, w.tenant_reason, w.suspected, w.failing, w.includes_incident, w.includes_instance',
    join: `CROSS JOIN (${tenantWindowSql(1, 7)}) AS w`,
  }),
);

/** The new decision's row and, only when it was inserted, its events: one statement. */
const INSERT_WITH_EVENTS = preparedStatement(
  'decision_insert_with_events',
  `WITH inserted AS (
     INSERT INTO decision.remediations (remediation_id, incident_id, tenant_id, service, instance, incident_event_id, incident, opened_at,
       suspected_cause, action, status, reason, policy_version, candidates, refusal_rule, planned_at, decided_at, decision_kind, explanation,
       fallbacks, emergency, expires_at, retry_at, deferred_at, execution, breaker_standing)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, -- then decisionParams' order:
             $10, $11, $12, $13, $14::jsonb, $15, $16, $17, $18, $19::jsonb, $20::jsonb, $21, $22, $23, $24, $25::jsonb, $26)
     ON CONFLICT (incident_id) DO NOTHING
     RETURNING remediation_id
   ), announced AS (
     ${insertOutboxBatchSql(DECISION_SCHEMA, 27)}
     WHERE EXISTS (SELECT FROM inserted)
   )
   SELECT remediation_id FROM inserted`,
);

/** The only SQL about remediations. Every call takes the caller's transaction. */
export const remediationsRepository = {
  /**
   * The breaker's shared lock (see breaker.repository), then the lock that serialises decisions for
   * one tenant until the transaction ends, in every process — the order every decision takes them
   * in — in one round trip. The inner query (volatile, so never flattened) runs first.
   */
  async lockBreakerSharedThenTenant(m: EntityManager, tenantId: string): Promise<void> {
    await queryPrepared(m, LOCK_BREAKER_SHARED_THEN_TENANT, [BREAKER_LOCK, TENANT_DECISION_LOCK, tenantId]);
  },

  /**
   * Claims an incident.opened in `consumer`'s inbox and, the first time, records the incident for
   * availability (its own facts win over what a resolve or an update that arrived first recorded;
   * a suspicion an update recorded is kept) and takes the locks of lockBreakerSharedThenTenant —
   * in one round trip. False when the event was processed before: then nothing else happened.
   */
  async claimRecordAndLock(m: EntityManager, consumer: string, event: Envelope<'incident.opened'>): Promise<boolean> {
    // On a connection borrowed for the call, the claim would commit on its own.
    assertInTransaction(m, 'claimRecordAndLock');
    const d = event.data;
    const rows = await queryPrepared(m, CLAIM_RECORD_AND_LOCK, [
      consumer,
      event.id,
      d.incidentId,
      event.tenantId,
      d.service,
      d.instance,
      d.kind,
      new Date(d.signalAt),
      d.suspectedCause ?? null,
      BREAKER_LOCK,
      TENANT_DECISION_LOCK,
    ]);
    return rows.length === 1;
  },

  /**
   * Everything a decision reads under its locks, in one statement (one snapshot, taken after the
   * locks were granted): the tenant's document, the breaker's state, the tenant's automatic actions
   * in the last hour, the in-flight remediations on the service, the last automatic actions on the
   * target (for backoff) and the incident's existing remediation. Failed attempts a fallback
   * replaced live in remediation_attempts and still count, towards the hourly cap and the backoff.
   */
  async decisionState(m: EntityManager, q: DecisionStateQuery): Promise<DecisionState> {
    const [row] = await queryPrepared<RawDecisionState>(m, DECISION_STATE, decisionStateParams(q));
    return decisionStateFromRaw(row);
  },

  /**
   * decisionState and, in the same statement, the tenant's breaker window as
   * breakerRepository.readWindow counts it (`window`: from `windowStart` to `now`, and whether
   * `instanceKey` — service/instance — is counted): what an opened incident needs to see whether
   * it would trip a breaker, without a round trip of its own.
   */
  async openedDecisionState(
    m: EntityManager,
    q: DecisionStateQuery & { windowStart: Date; now: Date; instanceKey: string },
  ): Promise<{ state: DecisionState; window: BreakerWindow }> {
    const [row] = await queryPrepared<RawDecisionState & RawBreakerWindow>(m, OPENED_DECISION_STATE, [
      ...decisionStateParams(q),
      q.windowStart,
      q.now,
      q.incidentId,
      q.instanceKey,
    ]);
    return { state: decisionStateFromRaw(row), window: breakerWindowFromRaw(row) };
  },

  async findByIncident(m: EntityManager, incidentId: string): Promise<RemediationRow | null> {
    const rows: RawRow[] = await m.query(`SELECT ${COLUMNS} FROM decision.remediations WHERE incident_id = $1`, [incidentId]);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  async findById(m: EntityManager, remediationId: string, forUpdate = false): Promise<RemediationRow | null> {
    const rows: RawRow[] = await m.query(`SELECT ${COLUMNS} FROM decision.remediations WHERE remediation_id = $1 ${forUpdate ? 'FOR UPDATE' : ''}`, [remediationId]);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /** Decisions of a tenant opened after `since`, oldest first: what a backtest replays. */
  async listForTenant(m: EntityManager, tenantId: string, since: Date, limit: number): Promise<RemediationRow[]> {
    const rows: RawRow[] = await m.query(
      `SELECT ${COLUMNS} FROM decision.remediations WHERE tenant_id = $1 AND decided_at >= $2 ORDER BY decided_at, remediation_id LIMIT $3`,
      [tenantId, since, limit],
    );
    return rows.map(fromRaw);
  },

  /**
   * Inserts the decision unless the incident already has one and, in the same statement and only
   * when it inserted, appends `events` (an outboxBatch) to the outbox; true when inserted. The
   * caller then hands the batch on (outboxBatchStored), as appendToOutbox would.
   */
  async insertWithEvents(m: EntityManager, row: NewRemediationRow & { breakerStanding: InventoryStanding }, events: OutboxBatch): Promise<boolean> {
    assertInTransaction(m, 'insertWithEvents');
    const inserted = await queryPrepared(m, INSERT_WITH_EVENTS, [
      row.remediationId,
      row.incidentId,
      row.tenantId,
      row.service,
      row.instance,
      row.incidentEventId,
      JSON.stringify(row.incident),
      row.openedAt,
      row.suspectedCause,
      ...decisionParams(row),
      row.breakerStanding,
      ...events.params,
    ]);
    return inserted.length === 1;
  },

  /**
   * The deferred decision due first, locked for this transaction; other workers skip it. A
   * relapse (an incident that broke another remediation's verify window) is not due while the
   * fallback that took over on its target is still in flight or deferred: one remediation per
   * target at a time; it is closed when it resolves, or decided once the fallback is settled.
   */
  async claimDueDeferral(m: EntityManager, now: Date): Promise<RemediationRow | null> {
    const rows: RawRow[] = await m.query(
      `SELECT ${COLUMNS} FROM decision.remediations r
       WHERE status = 'deferred' AND retry_at <= $1 AND incident_resolved_at IS NULL
         AND NOT EXISTS (SELECT FROM decision.remediations f WHERE f.relapse_incident_id = r.incident_id AND f.status IN (${IN_FLIGHT_SQL}, 'deferred'))
       ORDER BY retry_at, deferred_at LIMIT 1 FOR UPDATE OF r SKIP LOCKED`,
      [now],
    );
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /** Replaces a deferred row's decision with a new one (plan, deferral, escalation…); null when it is no longer deferred. */
  async redecide(m: EntityManager, remediationId: string, d: DecisionFields): Promise<RemediationRow | null> {
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET action = $2, status = $3, reason = $4, policy_version = $5, candidates = $6::jsonb, refusal_rule = $7,
         planned_at = $8, decided_at = $9, decision_kind = $10, explanation = $11::jsonb, fallbacks = $12::jsonb, emergency = $13, expires_at = $14,
         retry_at = $15, deferred_at = $16, execution = $17::jsonb
       WHERE remediation_id = $1 AND status = 'deferred'
       RETURNING ${COLUMNS}`,
      [remediationId, ...decisionParams(d)],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /**
   * A slot on the service freed: the incidents deferred by its concurrency cap become due now, so
   * the next sweep decides them again. (Cooldowns end at a fixed time; a freed slot changes nothing.)
   */
  async hastenDeferrals(m: EntityManager, tenantId: string, service: string, now: Date): Promise<number> {
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET retry_at = $3
       WHERE tenant_id = $1 AND service = $2 AND status = 'deferred' AND refusal_rule = 'service_concurrency' AND retry_at > $3
       RETURNING remediation_id`,
      [tenantId, service, now],
    );
    return returnedRows(result).length;
  },

  /** Moves a planned or approved remediation to its outcome; null when it is unknown or already has one. */
  async recordOutcome(
    m: EntityManager,
    remediationId: string,
    outcome: { status: 'succeeded' | 'failed'; at: Date; error?: { code: string; message: string } },
  ): Promise<RemediationRow | null> {
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET status = $2, outcome_at = $3, outcome_error = $4::jsonb
       WHERE remediation_id = $1 AND status IN ('planned', 'approved')
       RETURNING ${COLUMNS}`,
      [remediationId, outcome.status, outcome.at, outcome.error ? JSON.stringify(outcome.error) : null],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /**
   * The driver reported success: the remediation waits for its incident to resolve until
   * `deadline`. Null when it is unknown or already has an outcome. An incident whose resolution
   * was recorded for availability but not on this row counts as resolved then: the incidents
   * consumer takes several events at once, so `incident.resolved` can be handled before or
   * beside the `incident.opened` that creates the row (markIncidentResolved then finds no row),
   * which a heal on the agent's own under an arm makes likely (the incident resolves within a
   * heartbeat of opening). Not for a fallback waiting on a relapse: the relapse's own resolution verifies it.
   */
  async startVerification(m: EntityManager, remediationId: string, at: Date, deadline: Date): Promise<RemediationRow | null> {
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET status = 'verifying', outcome_at = $2, verify_deadline = $3,
              incident_resolved_at = coalesce(incident_resolved_at, (
                SELECT d.down_until FROM decision.incident_downtime d WHERE d.incident_id = remediations.incident_id AND remediations.relapse_incident_id IS NULL))
       WHERE remediation_id = $1 AND status IN ('planned', 'approved')
       RETURNING ${COLUMNS}`,
      [remediationId, at, deadline],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /** The incident resolved: the remediation being verified worked. Null when it is not being verified (any more). */
  async markVerified(m: EntityManager, remediationId: string, at: Date): Promise<RemediationRow | null> {
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET status = 'verified', verified_at = $2, verify_deadline = NULL, hold_until = NULL
       WHERE remediation_id = $1 AND status = 'verifying'
       RETURNING ${COLUMNS}`,
      [remediationId, at],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /**
   * The remediation being verified first past its deadline without a hold that ended by then (its
   * incident still open, or its window not held in time), locked for this transaction (other
   * workers skip it); null when none is due. A hold that ends by the deadline is claimHeld's,
   * whichever runs first.
   */
  async claimDueVerification(m: EntityManager, now: Date): Promise<RemediationRow | null> {
    const rows: RawRow[] = await m.query(
      `SELECT ${COLUMNS} FROM decision.remediations
       WHERE status = 'verifying' AND verify_deadline <= $1 AND (hold_until IS NULL OR hold_until > verify_deadline)
       ORDER BY verify_deadline LIMIT 1 FOR UPDATE SKIP LOCKED`,
      [now],
    );
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /**
   * The remediation whose verify window held first (its hold ended by `now` and by its deadline),
   * locked for this transaction (other workers skip it); null when none is due.
   */
  async claimHeld(m: EntityManager, now: Date): Promise<RemediationRow | null> {
    const rows: RawRow[] = await m.query(
      `SELECT ${COLUMNS} FROM decision.remediations
       WHERE hold_until <= $1 AND status = 'verifying' AND hold_until <= verify_deadline
       ORDER BY hold_until LIMIT 1 FOR UPDATE SKIP LOCKED`,
      [now],
    );
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /** The incident resolved: the target's health must hold until `until`. Null when the row is not being verified (any more). */
  async startHold(m: EntityManager, remediationId: string, until: Date): Promise<RemediationRow | null> {
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET hold_until = $2
       WHERE remediation_id = $1 AND status = 'verifying'
       RETURNING ${COLUMNS}`,
      [remediationId, until],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /**
   * A hold in progress on the target (tenant, service, instance) of an incident other than
   * `incidentId`, locked (waiting for a worker that holds it: the hold must be judged once);
   * null when there is none.
   */
  async findHoldOnTarget(m: EntityManager, tenantId: string, service: string, instance: string, incidentId: string): Promise<RemediationRow | null> {
    const rows: RawRow[] = await m.query(
      `SELECT ${COLUMNS} FROM decision.remediations
       WHERE tenant_id = $1 AND service = $2 AND instance = $3 AND hold_until IS NOT NULL AND status = 'verifying' AND incident_id <> $4
       ORDER BY hold_until LIMIT 1 FOR UPDATE`,
      [tenantId, service, instance, incidentId],
    );
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /**
   * A new incident broke the hold: the remediation counts as failed (a fallback may replace it),
   * and the problem is back — the resolution no longer verifies anything; the fallback is verified
   * by the new incident resolving (`relapse_incident_id`). Null when it is not being held (any more).
   */
  async failRelapse(m: EntityManager, remediationId: string, at: Date, relapseIncidentId: string, error: { code: string; message: string }): Promise<RemediationRow | null> {
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET status = 'failed', verify_deadline = NULL, hold_until = NULL, outcome_at = $2, outcome_error = $3::jsonb,
         incident_resolved_at = NULL, relapse_incident_id = $4
       WHERE remediation_id = $1 AND status = 'verifying' AND hold_until IS NOT NULL
       RETURNING ${COLUMNS}`,
      [remediationId, at, JSON.stringify(error), relapseIncidentId],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /**
   * The incident was still open at the deadline: the remediation counts as failed (so a fallback
   * may replace it, see replaceFailed), with the verification's error. Null when it is not being
   * verified (any more).
   */
  async failVerification(m: EntityManager, remediationId: string, at: Date, error: { code: string; message: string }): Promise<RemediationRow | null> {
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET status = 'failed', verify_deadline = NULL, hold_until = NULL, outcome_at = $2, outcome_error = $3::jsonb
       WHERE remediation_id = $1 AND status = 'verifying'
       RETURNING ${COLUMNS}`,
      [remediationId, at, JSON.stringify(error)],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /** Earlier attempts of the incident that failed and were replaced by a fallback, oldest first. */
  async attemptsOf(m: EntityManager, incidentId: string): Promise<FailedAttempt[]> {
    const rows: { remediation_id: string; action: RemediationAction; error: { code: string; message: string } | null }[] = await m.query(
      `SELECT remediation_id, action, error FROM decision.remediation_attempts WHERE incident_id = $1 ORDER BY failed_at, remediation_id`,
      [incidentId],
    );
    return rows.map((r) => ({ remediationId: r.remediation_id, action: r.action, error: r.error }));
  },

  /**
   * A failed remediation is replaced by a fallback decision: the failed attempt (the row as the
   * outcome left it) moves to remediation_attempts, and the row takes the new remediation id and
   * decision, its outcome cleared. Null when the row is no longer `failed` under `failedId`.
   */
  async replaceFailed(m: EntityManager, failedId: string, remediationId: string, d: DecisionFields): Promise<RemediationRow | null> {
    const moved: unknown[] = await m.query(
      `INSERT INTO decision.remediation_attempts (remediation_id, incident_id, tenant_id, service, instance, action, planned_at, failed_at, error)
       SELECT remediation_id, incident_id, tenant_id, service, instance, action, planned_at, outcome_at, outcome_error
       FROM decision.remediations WHERE remediation_id = $1 AND status = 'failed' AND action IS NOT NULL AND outcome_at IS NOT NULL
       RETURNING remediation_id`,
      [failedId],
    );
    if (moved.length !== 1) return null;
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET remediation_id = $18, action = $2, status = $3, reason = $4, policy_version = $5, candidates = $6::jsonb, refusal_rule = $7,
         planned_at = $8, decided_at = $9, decision_kind = $10, explanation = $11::jsonb, fallbacks = $12::jsonb, emergency = $13, expires_at = $14,
         retry_at = $15, deferred_at = $16, execution = $17::jsonb, outcome_at = NULL, outcome_error = NULL, reviewed_by = NULL, reviewed_at = NULL,
         verify_deadline = NULL, verified_at = NULL
       WHERE remediation_id = $1 AND status = 'failed'
       RETURNING ${COLUMNS}`,
      [failedId, ...decisionParams(d), remediationId],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /** Settles an approval; null when the remediation is not awaiting approval (any more). */
  async review(m: EntityManager, remediationId: string, to: 'approved' | 'rejected' | 'escalated', by: string, at: Date, reason: string): Promise<RemediationRow | null> {
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET status = $2, reviewed_by = $3, reviewed_at = $4, reason = $5
       WHERE remediation_id = $1 AND status = 'awaiting_approval'
       RETURNING ${COLUMNS}`,
      [remediationId, to, by, at, reason],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /** Approvals past their deadline, locked for this transaction; other sweepers skip them. */
  async claimExpiredApprovals(m: EntityManager, now: Date, limit: number): Promise<RemediationRow[]> {
    const rows: RawRow[] = await m.query(
      `SELECT ${COLUMNS} FROM decision.remediations WHERE status = 'awaiting_approval' AND expires_at <= $1
       ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [now, limit],
    );
    return rows.map(fromRaw);
  },

  /** The incident of a deferred decision is over: the decision is closed without action; false when it is not deferred. */
  async closeDeferral(m: EntityManager, incidentId: string, at: Date): Promise<boolean> {
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET status = 'resolved', retry_at = NULL, incident_resolved_at = $2,
         reason = 'the incident resolved while deferred; nothing was done'
       WHERE incident_id = $1 AND status = 'deferred'
       RETURNING remediation_id`,
      [incidentId, at],
    );
    return returnedRows(result).length === 1;
  },

  /** Notes that the incident behind a decision is over; false when there is no decision for it. */
  async markIncidentResolved(m: EntityManager, incidentId: string, at: Date): Promise<boolean> {
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET incident_resolved_at = $2
       WHERE incident_id = $1 AND incident_resolved_at IS NULL
       RETURNING remediation_id`,
      [incidentId, at],
    );
    return returnedRows(result).length === 1;
  },

  /**
   * The relapse that broke a hold is over: the remediation that replaced the failed one (same
   * row, its incident's) is verified by it. Returns that row, or null when none waits for it.
   */
  async markRelapseResolved(m: EntityManager, relapseIncidentId: string, at: Date): Promise<RemediationRow | null> {
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET incident_resolved_at = $2
       WHERE relapse_incident_id = $1 AND incident_resolved_at IS NULL
       RETURNING ${COLUMNS}`,
      [relapseIncidentId, at],
    );
    const rows = returnedRows<RawRow>(result);
    return rows[0] ? fromRaw(rows[0]) : null;
  },
};
