import type { Role } from '@autoheal/access';

/*
 * The services' answers as they arrive over JSON (dates are strings). An app never imports
 * another app, so these restate the shapes of the decision service's admin API and the auditor's
 * API; the integration tests in test/cli run the CLI against the real services, which catches a
 * shape that drifted.
 */

export type Change = { path: string; from?: unknown; to?: unknown };

export interface ApplyResult {
  tenantId: string;
  version: string;
  previousVersion: string | null;
  outcome: 'created' | 'updated' | 'unchanged';
  changes: Change[];
}

export interface TenantListItem {
  tenantId: string;
  displayName?: string;
  version: string;
  appliedBy: string;
  updatedAt: string;
}

export interface WireTenantVersion {
  seq: number;
  tenantId: string;
  version: string;
  previousVersion: string | null;
  document: unknown;
  changes: Change[];
  appliedAt: string;
  appliedBy: string;
}

export interface TenantDiff {
  from: string;
  to: string;
  changes: Change[];
}

export interface BacktestDecision {
  decision: string;
  action: string | null;
  policyVersion: string;
  reason: string;
}

export interface BacktestLine {
  incidentId: string;
  openedAt: string;
  kind: string;
  target: string;
  then: BacktestDecision;
  candidate: BacktestDecision;
  changed: boolean;
}

export interface BacktestReport {
  tenantId: string;
  candidateVersion: string;
  replayed: number;
  changed: number;
  /** Decisions that could not be replayed (taken before incident facts were stored). */
  skipped: number;
  lines: BacktestLine[];
}

export interface ReviewSummary {
  remediationId: string;
  incidentId: string;
  status: string;
  action: string | null;
  reason: string;
}

export interface WireBreaker {
  open: boolean;
  reason: string | null;
  openedAt: string | null;
  resumedAt: string | null;
  resumedBy: string | null;
}

export interface WireTenantBreaker extends WireBreaker {
  tenantId: string;
}

export interface WireBreakerOverview extends WireBreaker {
  tenants: WireTenantBreaker[];
}

/** A key as the auditor lists it (never its secret). */
export interface WireApiKey {
  id: string;
  subject: string;
  roles: Role[];
  tenantScope: '*' | string[];
  label: string;
  origin: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface NewApiKey {
  subject: string;
  roles: Role[];
  tenantScope: '*' | string[];
  expiresAt?: string;
  label?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface AuditItem {
  tenantId: string;
  seq: number;
  eventId: string;
  eventType: string;
  occurredAt: string;
  recordedAt: string;
  actor: string;
  action: string;
  outcome: string;
  resource: Record<string, unknown>;
  source: string;
  correlationId: string | null;
  causationId: string | null;
  traceId: string | null;
  payload: unknown;
}

export interface AuditVerification {
  tenantId: string;
  ok: boolean;
  checkedRows: number;
  headSeq: number;
  headHash: string;
  firstBreak: { seq: number; lastSeq: number | null; reason: string; expectedHash: string | null; actualHash: string | null; detail: string } | null;
  fromSeq: number;
  full: boolean;
  checkpointedSeq: number;
  latestCheckpointSeq: number | null;
  externalCheckpoints: 'consulted' | 'unavailable';
}

export interface IncidentItem {
  incidentId: string;
  service: string;
  instance: string;
  kind: string;
  severity: string;
  status: string;
  signalAt: string | null;
  openedAt: string;
  resolvedAt: string | null;
  resolveReason: string | null;
}

export interface TimelineEntry {
  seq: number;
  eventId: string;
  eventType: string;
  occurredAt: string;
  recordedAt: string;
  actor: string;
  action: string;
  outcome: string;
  remediationId: string | null;
  sincePreviousMs: number;
  sinceOpenedMs: number;
}

export interface Timeline {
  tenantId: string;
  incidentId: string;
  service: string | null;
  instance: string | null;
  kind: string | null;
  status: string;
  signalAt: string | null;
  detectionMs: number | null;
  openedAt: string;
  resolvedAt: string | null;
  verifiedAt: string | null;
  openedToVerifiedMs: number | null;
  entries: TimelineEntry[];
  truncated: boolean;
}

export interface RemediationItem {
  remediationId: string;
  incidentId: string;
  service: string;
  instance: string;
  action: string | null;
  status: string;
  outcome: string;
  startedAt: string;
  updatedAt: string;
}

export interface PendingApproval {
  remediationId: string;
  incidentId: string;
  service: string;
  instance: string;
  action: string;
  requestedAt: string;
  expiresAt: string;
  reason: string;
  policyVersion: string;
}
