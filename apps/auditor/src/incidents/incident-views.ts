import type { EventType } from '@autoheal/contracts';

/**
 * The incident and remediation views are read from the audit trail itself: each row's payload is
 * the event's envelope, so what the API says about an incident is exactly what the trail holds.
 * This file holds the parts that are decisions over data (statuses, durations), not SQL.
 */

export const INCIDENT_STATUSES = ['open', 'resolved'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

/** Where a remediation stands: named after its latest event (`executed`: the driver reported success). */
export const REMEDIATION_STATUSES = [
  'planned',
  'awaiting_approval',
  'approved',
  'rejected',
  'deferred',
  'started',
  'executed',
  'failed',
  'rolled_back',
  'verified',
  'verification_failed',
  'escalated',
] as const;
export type RemediationStatus = (typeof REMEDIATION_STATUSES)[number];

/** The remediation events that carry a remediation id: the steps of one remediation. */
export type RemediationStepType = Exclude<Extract<EventType, `remediation.${string}`>, 'remediation.escalation_delivered'>;

/** Keyed by every step type: a new remediation event fails to compile until it has a status. */
const STATUS_OF_STEP: Record<RemediationStepType, RemediationStatus> = {
  'remediation.planned': 'planned',
  'remediation.awaiting_approval': 'awaiting_approval',
  'remediation.approved': 'approved',
  'remediation.rejected': 'rejected',
  'remediation.deferred': 'deferred',
  'remediation.started': 'started',
  'remediation.succeeded': 'executed',
  'remediation.failed': 'failed',
  'remediation.rolled_back': 'rolled_back',
  'remediation.verified': 'verified',
  'remediation.verification_failed': 'verification_failed',
  'remediation.escalated': 'escalated',
};

export const REMEDIATION_STEP_TYPES = Object.keys(STATUS_OF_STEP) as RemediationStepType[];

/** The status a remediation whose latest recorded event is `eventType` is in (null: not a remediation step). */
export function remediationStatusOf(eventType: string): RemediationStatus | null {
  return Object.hasOwn(STATUS_OF_STEP, eventType) ? STATUS_OF_STEP[eventType as RemediationStepType] : null;
}

/** The event type whose being a remediation's latest means `status`. */
export function stepTypeOf(status: RemediationStatus): RemediationStepType {
  const found = REMEDIATION_STEP_TYPES.find((type) => STATUS_OF_STEP[type] === status);
  if (!found) throw new Error(`no event type for remediation status ${status}`);
  return found;
}

/** One recorded event of an incident, as the timeline needs it. */
export interface TimelineRow {
  seq: number;
  eventId: string;
  eventType: string;
  occurredAt: string;
  recordedAt: string;
  actor: string;
  action: string;
  outcome: string;
  remediationId: string | null;
}

export interface TimelineEntry extends TimelineRow {
  /** occurredAt minus the previous entry's (0 for the first). */
  sincePreviousMs: number;
  /** occurredAt minus the incident's opening (negative for an event stamped before it). */
  sinceOpenedMs: number;
}

export interface Timeline {
  openedAt: string;
  /** When the signal that proves the fault happened (from incident.opened), null when it was not recorded. */
  signalAt: string | null;
  resolvedAt: string | null;
  /** The first remediation.verified of the incident. */
  verifiedAt: string | null;
  entries: TimelineEntry[];
}

/**
 * The incident's events in the order they happened (occurredAt, then the order recorded), with
 * the time since the previous one and since the incident opened (its incident.opened row; when
 * the trail holds events of the incident but not its opening, durations run from the first
 * event). `rows` must not be empty.
 */
export function timelineOf(rows: readonly TimelineRow[], signalAt: string | null): Timeline {
  const ordered = [...rows].sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt) || a.seq - b.seq);
  const opened = ordered.find((r) => r.eventType === 'incident.opened') ?? ordered[0];
  const openedMs = Date.parse(opened.occurredAt);
  let previousMs: number | null = null;
  const entries = ordered.map((row) => {
    const at = Date.parse(row.occurredAt);
    const entry: TimelineEntry = { ...row, sincePreviousMs: previousMs === null ? 0 : at - previousMs, sinceOpenedMs: at - openedMs };
    previousMs = at;
    return entry;
  });
  return {
    openedAt: opened.occurredAt,
    signalAt,
    resolvedAt: ordered.find((r) => r.eventType === 'incident.resolved')?.occurredAt ?? null,
    verifiedAt: ordered.find((r) => r.eventType === 'remediation.verified')?.occurredAt ?? null,
    entries,
  };
}
