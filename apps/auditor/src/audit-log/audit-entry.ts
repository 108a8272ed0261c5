import type { Envelope, EventData } from '@autoheal/contracts';
import type { JsonValue, Outcome } from './hash-chain.js';
import type { ReadWindow } from './read-records.js';
import { redactFields } from './redaction.js';

/**
 * What an audit row says, before it is placed in the chain: who (actor), what (action,
 * event type), when (occurredAt), where (source), which resource, and the outcome —
 * the PCI DSS 10.2.2 questions.
 */
export interface AuditEntry {
  tenantId: string;
  eventId: string;
  eventType: string;
  /** RFC 3339 UTC, milliseconds. */
  occurredAt: string;
  actor: string;
  action: string;
  outcome: Outcome;
  resource: { [key: string]: JsonValue };
  source: string;
  correlationId: string | null;
  causationId: string | null;
  payload: JsonValue;
}

/** Event type of the rows the auditor writes about reads of the audit log itself. */
export const AUDIT_READ = 'audit.read';
export const AUDIT_VERIFY = 'audit.verify';

/**
 * Timestamps are stored as timestamptz (microseconds) and read back as JS dates
 * (milliseconds); hashing the millisecond form, and storing exactly that, keeps a row's
 * hash reproducible from what the database returns.
 */
export function normalizeTimestamp(value: string | Date): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new RangeError(`invalid timestamp ${String(value)}`);
  return date.toISOString();
}

function resourceOf(data: object, keys: readonly string[]): { [key: string]: JsonValue } {
  const resource: { [key: string]: JsonValue } = {};
  for (const key of keys) {
    const value: unknown = (data as Record<string, unknown>)[key];
    if (typeof value === 'string') resource[key] = value;
  }
  return resource;
}

const RESOURCE_KEYS = ['service', 'instance', 'incidentId', 'remediationId', 'subject', 'eventId'] as const;

interface Description {
  actor?: string;
  action: string;
  outcome: Outcome;
  /** The row's event type when it is not the event's own. */
  eventType?: string;
  resource?: { [key: string]: JsonValue };
}

/** Event type of the rows recording refused requests (401/403), aggregated, in the system trail: the auditor's own and other services'. */
export const ACCESS_REFUSED = 'access.refused';

/** The who/what/outcome of each event type; a new event type fails to compile until it is described here. */
function describe(event: Envelope): Description {
  switch (event.type) {
    case 'incident.opened':
      return { action: 'incident.open', outcome: 'info' };
    case 'incident.updated':
      return { action: 'incident.update', outcome: 'info' };
    case 'incident.resolved':
      return { action: 'incident.resolve', outcome: 'success' };
    case 'remediation.planned':
      return { action: `${event.data.action}.plan`, outcome: 'info' };
    case 'remediation.awaiting_approval':
      return { action: `${event.data.action}.request_approval`, outcome: 'info' };
    case 'remediation.approved':
      // The person who approved is who acted; the producer only relayed it.
      return { actor: event.data.approvedBy, action: `${event.data.action}.approve`, outcome: 'success' };
    case 'remediation.rejected':
      return { actor: event.data.rejectedBy, action: `${event.data.action}.reject`, outcome: 'refused' };
    case 'remediation.escalated':
      return { action: 'remediation.escalate', outcome: 'refused' };
    case 'remediation.deferred':
      // Not a refusal yet: the decision is taken again once a slot frees or the cooldown ends.
      return { action: `${event.data.refusals[0].action}.defer`, outcome: 'info' };
    case 'remediation.started':
      return { action: `${event.data.action}.start`, outcome: 'info' };
    case 'remediation.succeeded':
      return { action: `${event.data.action}.execute`, outcome: 'success' };
    case 'remediation.failed':
      return { action: `${event.data.action}.execute`, outcome: 'failure' };
    case 'remediation.rolled_back':
      return { action: `${event.data.action}.roll_back`, outcome: 'failure' };
    case 'remediation.verified':
      return { action: `${event.data.action}.verify`, outcome: 'success' };
    case 'remediation.verification_failed':
      return { action: `${event.data.action}.verify`, outcome: 'failure' };
    case 'compliance.action_refused':
      return { action: `${event.data.action}.authorize`, outcome: 'refused' };
    case 'compliance.policy_changed':
      return { actor: event.data.changedBy, action: 'policy.change', outcome: 'success' };
    case 'compliance.ttr_at_risk':
      return { action: 'time_to_remediate.at_risk', outcome: 'info' };
    case 'compliance.breach':
      return { action: `${event.data.rule}.breach`, outcome: 'failure' };
    case 'compliance.breaker_opened':
      return { action: 'automatic_actions.stop', outcome: 'info' };
    case 'compliance.breaker_resumed':
      // The person who resumed is who acted.
      return { actor: event.data.resumedBy, action: 'automatic_actions.resume', outcome: 'success' };
    case 'remediation.escalation_delivered':
      return { action: `escalation.deliver.${event.data.kind}`, outcome: event.data.outcome === 'delivered' ? 'success' : 'failure' };
    case 'security.event_rejected':
      // The service that refused the event is who acted; the event's claimed producer is in the payload.
      return { action: 'control_event.reject', outcome: 'refused' };
    case 'security.reply_rejected':
      return { action: 'command_reply.reject', outcome: 'refused' };
    case 'security.access_refused':
      // Another service's refused requests, aggregated: recorded like the auditor's own (api-key-records.ts refusalEntry),
      // in the system trail (the envelope's tenant), under the origin that was refused.
      return {
        actor: event.data.origin,
        action: event.data.status === 401 ? 'api.authenticate' : 'api.authorize',
        outcome: 'refused',
        eventType: ACCESS_REFUSED,
        resource: { api: event.data.api },
      };
    case 'health.heartbeat':
    case 'health.stopping':
    case 'health.metrics':
    case 'health.exited':
    case 'health.alert':
      // Not routed to the auditor (no consumer on health.>); described for completeness.
      return { action: event.type, outcome: 'info' };
    default: {
      const unreachable: never = event;
      throw new Error(`no audit description for ${JSON.stringify(unreachable)}`);
    }
  }
}

/**
 * The audit entry for a domain event received on `subject`. The payload is the whole envelope,
 * less the fields named in `redacted` (see redaction.ts), removed before the row is hashed.
 */
export function auditEntryForEvent(event: Envelope, subject: string, redacted: ReadonlySet<string> = new Set()): AuditEntry {
  const d = describe(event);
  return {
    tenantId: event.tenantId,
    eventId: event.id,
    eventType: d.eventType ?? event.type,
    occurredAt: normalizeTimestamp(event.occurredAt),
    actor: d.actor ?? event.producer,
    action: d.action,
    outcome: d.outcome,
    resource: d.resource ?? resourceOf(event.data, RESOURCE_KEYS),
    source: subject,
    correlationId: event.correlationId,
    causationId: event.causationId,
    payload: redactFields(event as unknown as JsonValue, redacted),
  };
}

/**
 * The entry the auditor writes itself when it refuses a control event's provenance: the
 * auditor owns the trail, so it records what it caught directly. The tenant is the subject's;
 * the row's event id is new (the refused envelope's own id is in the payload, as claimed).
 */
export function auditEntryForRejection(tenantId: string, eventId: string, at: Date, data: EventData<'security.event_rejected'>, actor: string): AuditEntry {
  return {
    tenantId,
    eventId,
    eventType: 'security.event_rejected',
    occurredAt: normalizeTimestamp(at),
    actor,
    action: 'control_event.reject',
    outcome: 'refused',
    resource: resourceOf(data, ['subject', 'eventId']),
    source: data.subject,
    correlationId: null,
    causationId: null,
    payload: data,
  };
}

export interface ApiAccess {
  eventId: string;
  tenantId: string;
  /** Id of the API key used. */
  actor: string;
  /** e.g. `GET /v1/tenants/acme/audit from 10.0.0.7` */
  source: string;
  at: Date;
}

/**
 * The entry recording the reads of a tenant's audit log by one actor within one window (or the
 * refused requests, for `outcome: 'refused'`): one row with a count, not one per request, so a
 * flood of reads cannot bloat the trail it reads. The payload says how many, between when and
 * when, of which kind, and the first few distinct queries and sources.
 */
export function auditEntryForReadWindow(window: ReadWindow, eventId: string, windowMs: number): AuditEntry {
  const payload: { [key: string]: JsonValue } = {
    count: window.count,
    firstAt: normalizeTimestamp(new Date(window.openedAtMs)),
    lastAt: normalizeTimestamp(new Date(window.lastAtMs)),
    windowSeconds: windowMs / 1000,
    kinds: window.kinds,
  };
  if (window.outcome === 'refused') payload.statuses = window.statuses;
  else payload.returnedItems = window.returnedItems;
  if (window.queries.length > 0) payload.queries = window.queries;
  payload.sources = window.sources;
  return {
    tenantId: window.tenantId,
    eventId,
    eventType: AUDIT_READ,
    occurredAt: normalizeTimestamp(new Date(window.openedAtMs)),
    actor: window.actor,
    action: 'audit_log.read',
    outcome: window.outcome,
    resource: { auditLog: window.tenantId },
    source: window.sources[0] ?? 'unknown',
    correlationId: null,
    causationId: null,
    payload,
  };
}

/**
 * The entry recording a verification that found the chain broken, appended at once (a clean
 * verification is counted in its reader's `audit.read` window instead).
 */
export function auditEntryForVerify(
  access: ApiAccess,
  result: { ok: boolean; full: boolean; fromSeq: number; checkedRows: number; headSeq: number; firstBreakSeq: number | null; reason: string | null },
): AuditEntry {
  return {
    tenantId: access.tenantId,
    eventId: access.eventId,
    eventType: AUDIT_VERIFY,
    occurredAt: normalizeTimestamp(access.at),
    actor: access.actor,
    action: 'audit_log.verify',
    outcome: result.ok ? 'success' : 'failure',
    resource: { auditLog: access.tenantId },
    source: access.source,
    correlationId: null,
    causationId: null,
    payload: result,
  };
}
