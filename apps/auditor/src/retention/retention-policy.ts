import { AUDIT_RETENTION, BASELINE_AUDIT_RETENTION, type AuditRetention, type RetentionFramework } from '@autoheal/contracts';

const DAY_MS = 86_400_000;

/**
 * Retention as plain functions over data. Where a tenant's frameworks come from: its own trail.
 * Every apply of a tenant document reaches the auditor as `compliance.policy_changed`, whose
 * payload (the envelope) lists the changes by path — `frameworks` (the whole list), `overrides`
 * (the whole object, at creation) and `overrides.auditRetentionDays`. Folding them in seq order
 * gives every profile the tenant has had; the retention is the longest any of them asked for, so
 * a later apply that lowers it never shortens what was recorded under the longer one.
 */
export interface PolicyChange {
  path: string;
  to?: unknown;
}

/** Retention of one profile state: frameworks (strictest wins) and the tenant's override, which can only lengthen. */
export function retentionOf(frameworks: readonly string[], overrideDays: number | null): AuditRetention {
  const known = frameworks.filter((f): f is RetentionFramework => f in AUDIT_RETENTION);
  const base =
    known.length === 0
      ? BASELINE_AUDIT_RETENTION
      : known.map((f): AuditRetention => AUDIT_RETENTION[f]).reduce((a, b) => ({ retainDays: Math.max(a.retainDays, b.retainDays), onlineDays: Math.max(a.onlineDays, b.onlineDays) }));
  return { retainDays: Math.max(base.retainDays, overrideDays ?? 0), onlineDays: base.onlineDays };
}

/**
 * The retention a tenant's trail is held to, from its policy changes in seq order: the longest of
 * every state it passed through. `floor` is what was already decided (an earlier archive's), kept
 * when the changes that set it are no longer in the database. A tenant with no recorded policy and
 * no floor gets `unknown` (the auditor's conservative default).
 */
export function tenantRetention(changes: readonly (readonly PolicyChange[])[], floor: AuditRetention | null, unknown: AuditRetention): AuditRetention {
  let frameworks: string[] = [];
  let overrideDays: number | null = null;
  let result: AuditRetention | null = floor;
  for (const applied of changes) {
    for (const change of applied) {
      if (change.path === 'frameworks') frameworks = Array.isArray(change.to) ? change.to.filter((f): f is string => typeof f === 'string') : [];
      else if (change.path === 'overrides') overrideDays = numberOrNull((change.to as { auditRetentionDays?: unknown } | undefined)?.auditRetentionDays);
      else if (change.path === 'overrides.auditRetentionDays') overrideDays = numberOrNull(change.to);
    }
    result = longest(result, retentionOf(frameworks, overrideDays));
  }
  return result ?? unknown;
}

function numberOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function longest(a: AuditRetention | null, b: AuditRetention): AuditRetention {
  return a === null ? b : { retainDays: Math.max(a.retainDays, b.retainDays), onlineDays: Math.max(a.onlineDays, b.onlineDays) };
}

/** A monthly partition of the log: rows recorded in [from, to). */
export interface PartitionSpan {
  name: string;
  from: Date;
  to: Date;
}

/** `audit_log_p2026_03` → March 2026 (UTC); null for any other name (the default partition). */
export function partitionSpan(name: string): PartitionSpan | null {
  const m = /^audit_log_p(\d{4})_(\d{2})$/.exec(name);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]) - 1;
  return { name, from: new Date(Date.UTC(year, month, 1)), to: new Date(Date.UTC(year, month + 1, 1)) };
}

export type PartitionStage = 'online' | 'archive' | 'drop';

/**
 * What is due for a partition at `now`, given the retention of each tenant with rows in it:
 * online while its newest possible row is younger than the longest online window among them;
 * then archived; dropped once every tenant's retention has passed (for its newest possible row).
 */
export function partitionStage(span: PartitionSpan, tenants: readonly AuditRetention[], now: Date): PartitionStage {
  const online = Math.max(0, ...tenants.map((t) => t.onlineDays));
  const retain = Math.max(0, ...tenants.map((t) => t.retainDays));
  const age = now.getTime() - span.to.getTime();
  if (age < online * DAY_MS) return 'online';
  if (age < retain * DAY_MS) return 'archive';
  return 'drop';
}

/** The end of a tenant's retention for the rows of a partition. */
export function retainUntil(span: PartitionSpan, retention: AuditRetention): Date {
  return new Date(span.to.getTime() + retention.retainDays * DAY_MS);
}
