import type { EntityManager } from 'typeorm';
import type { CandidateConsidered, RemediationAction } from '@autoheal/contracts';
import { BREAKER_LOCK } from '../breaker/breaker.repository.js';
import { tenantFromRaw, type RawTenant, type StoredTenant } from '../tenants/tenants.repository.js';

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
  | 'resolved';

/** Statuses of a remediation that may still act on the service (the concurrency cap counts these). */
export const IN_FLIGHT_STATUSES: readonly RemediationStatus[] = ['planned', 'awaiting_approval', 'approved'];

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
  /** Set exactly while deferred: when the decision is taken again. */
  retryAt: Date | null;
  /** When the incident was first deferred; kept afterwards. */
  deferredAt: Date | null;
}

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
}

const COLUMNS = `remediation_id, incident_id, tenant_id, service, instance, action, status, reason, policy_version,
  candidates, refusal_rule, incident_event_id, planned_at, decided_at, incident, opened_at, suspected_cause, decision_kind,
  explanation, fallbacks, emergency, expires_at, retry_at, deferred_at`;

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
  };
}

/** TypeORM hands back `[rows, count]` for UPDATE … RETURNING and plain rows for the rest. */
function returnedRows<T>(result: unknown): T[] {
  const list = result as unknown[];
  return (Array.isArray(list[0]) ? list[0] : list) as T[];
}

/**
 * Parameters $2…$16 of the statements that set a decision on a row (a deferral decided again,
 * a fallback after a failure): action, status, reason, policy_version, candidates, refusal_rule,
 * planned_at, decided_at, decision_kind, explanation, fallbacks, emergency, expires_at, retry_at,
 * deferred_at — in that order.
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
  ];
}

/** What a decision reads under its locks (see remediationsRepository.decisionState). */
export interface DecisionState {
  /** The tenant's current document; null without one. */
  tenant: StoredTenant | null;
  breaker: { open: boolean; reason: string | null };
  /** Automatic actions planned for the tenant after `hourAgo`, failed attempts included. */
  autoActionsInLastHour: number;
  /** Remediations that may still act on the service. */
  inFlightOnService: number;
  /** The last automatic action on the target since `cooldownSince` and how many there were. */
  lastActionOnTarget: { at: number; consecutive: number } | undefined;
  /** The remediation the incident has already, if any. */
  existingRemediationId: string | null;
}

/** The only SQL about remediations. Every call takes the caller's transaction. */
export const remediationsRepository = {
  /**
   * The breaker's shared lock (see breaker.repository), then the lock that serialises decisions for
   * one tenant until the transaction ends, in every process — the order every decision takes them
   * in — in one round trip. The inner query (volatile, so never flattened) runs first.
   */
  async lockBreakerSharedThenTenant(m: EntityManager, tenantId: string): Promise<void> {
    await m.query(`SELECT pg_advisory_xact_lock($2::int, hashtext($3)) FROM (SELECT pg_advisory_xact_lock_shared($1::bigint)) AS breaker`, [
      BREAKER_LOCK,
      TENANT_DECISION_LOCK,
      tenantId,
    ]);
  },

  /**
   * Everything a decision reads under its locks, in one statement (one snapshot, taken after the
   * locks were granted): the tenant's document, the breaker's state, the tenant's automatic actions
   * in the last hour, the in-flight remediations on the service, the last automatic actions on the
   * target (for backoff) and the incident's existing remediation. Failed attempts a fallback
   * replaced live in remediation_attempts and still count, towards the hourly cap and the backoff.
   */
  async decisionState(
    m: EntityManager,
    q: { tenantId: string; service: string; instance: string; incidentId: string; hourAgo: Date; cooldownSince: Date },
  ): Promise<DecisionState> {
    const [row]: (Partial<RawTenant> & {
      breaker_open: boolean;
      breaker_reason: string | null;
      auto_actions: string;
      in_flight: number;
      last_at: Date | null;
      last_n: number;
      existing_remediation_id: string | null;
    })[] = await m.query(
      `SELECT b.open AS breaker_open, b.reason AS breaker_reason,
         t.tenant_id, t.document, t.policy_version, t.applied_by, t.updated_at,
         (SELECT count(*) FROM decision.remediations WHERE tenant_id = $1 AND planned_at > $5)
           + (SELECT count(*) FROM decision.remediation_attempts WHERE tenant_id = $1 AND planned_at > $5) AS auto_actions,
         (SELECT count(*)::int FROM decision.remediations WHERE tenant_id = $1 AND service = $2 AND status = ANY($7::text[])) AS in_flight,
         last.at AS last_at, last.n AS last_n,
         (SELECT remediation_id FROM decision.remediations WHERE incident_id = $4) AS existing_remediation_id
       FROM decision.breaker b
       LEFT JOIN decision.tenants t ON t.tenant_id = $1
       CROSS JOIN (
         SELECT max(planned_at) AS at, count(*)::int AS n FROM (
           SELECT planned_at FROM decision.remediations WHERE tenant_id = $1 AND service = $2 AND instance = $3 AND planned_at > $6
           UNION ALL
           SELECT planned_at FROM decision.remediation_attempts WHERE tenant_id = $1 AND service = $2 AND instance = $3 AND planned_at > $6
         ) AS actions
       ) AS last
       WHERE b.id = 1`,
      [q.tenantId, q.service, q.instance, q.incidentId, q.hourAgo, q.cooldownSince, IN_FLIGHT_STATUSES],
    );
    return {
      tenant: row.tenant_id ? tenantFromRaw(row as RawTenant) : null,
      breaker: { open: row.breaker_open, reason: row.breaker_reason },
      autoActionsInLastHour: Number(row.auto_actions),
      inFlightOnService: row.in_flight,
      lastActionOnTarget: row.last_at ? { at: row.last_at.getTime(), consecutive: row.last_n } : undefined,
      existingRemediationId: row.existing_remediation_id,
    };
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

  /** Inserts the decision unless the incident already has one; true when inserted. */
  async insert(m: EntityManager, row: RemediationRow): Promise<boolean> {
    const inserted: unknown[] = await m.query(
      `INSERT INTO decision.remediations (${COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14, $15::jsonb, $16, $17, $18, $19::jsonb, $20::jsonb, $21, $22, $23, $24)
       ON CONFLICT (incident_id) DO NOTHING
       RETURNING remediation_id`,
      [
        row.remediationId,
        row.incidentId,
        row.tenantId,
        row.service,
        row.instance,
        row.action,
        row.status,
        row.reason,
        row.policyVersion,
        JSON.stringify(row.candidates),
        row.refusalRule,
        row.incidentEventId,
        row.plannedAt,
        row.decidedAt,
        JSON.stringify(row.incident),
        row.openedAt,
        row.suspectedCause,
        row.decisionKind,
        row.explanation ? JSON.stringify(row.explanation) : null,
        JSON.stringify(row.fallbacks),
        row.emergency,
        row.expiresAt,
        row.retryAt,
        row.deferredAt,
      ],
    );
    return inserted.length === 1;
  },

  /** The deferred decision due first, locked for this transaction; other workers skip it. */
  async claimDueDeferral(m: EntityManager, now: Date): Promise<RemediationRow | null> {
    const rows: RawRow[] = await m.query(
      `SELECT ${COLUMNS} FROM decision.remediations
       WHERE status = 'deferred' AND retry_at <= $1 AND incident_resolved_at IS NULL
       ORDER BY retry_at, deferred_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
      [now],
    );
    return rows[0] ? fromRaw(rows[0]) : null;
  },

  /** Replaces a deferred row's decision with a new one (plan, deferral, escalation…); null when it is no longer deferred. */
  async redecide(m: EntityManager, remediationId: string, d: DecisionFields): Promise<RemediationRow | null> {
    const result: unknown = await m.query(
      `UPDATE decision.remediations SET action = $2, status = $3, reason = $4, policy_version = $5, candidates = $6::jsonb, refusal_rule = $7,
         planned_at = $8, decided_at = $9, decision_kind = $10, explanation = $11::jsonb, fallbacks = $12::jsonb, emergency = $13, expires_at = $14,
         retry_at = $15, deferred_at = $16
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
      `UPDATE decision.remediations SET remediation_id = $17, action = $2, status = $3, reason = $4, policy_version = $5, candidates = $6::jsonb, refusal_rule = $7,
         planned_at = $8, decided_at = $9, decision_kind = $10, explanation = $11::jsonb, fallbacks = $12::jsonb, emergency = $13, expires_at = $14,
         retry_at = $15, deferred_at = $16, outcome_at = NULL, outcome_error = NULL, reviewed_by = NULL, reviewed_at = NULL
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
};
