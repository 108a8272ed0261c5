/** One incident as the auditor lists it, with the tenant it belongs to. */
export interface FeedIncident {
  tenantId: string;
  incidentId: string;
  service: string;
  instance: string;
  kind: string;
  severity: string;
  status: string;
  openedAt: string;
  resolvedAt: string | null;
  resolveReason: string | null;
}

export interface IncidentChange {
  change: 'opened' | 'updated';
  incident: FeedIncident;
}

const keyOf = (i: FeedIncident) => `${i.tenantId}/${i.incidentId}`;
const stateOf = (i: FeedIncident) => `${i.status}|${i.resolvedAt ?? ''}|${i.resolveReason ?? ''}`;

/**
 * What a poll found that the page has not seen: incidents new since the last poll (`opened`) and
 * known ones whose status changed (`updated`), oldest first so the page can prepend in order.
 * `known` is updated in place. Incidents that dropped off the polled page are forgotten by the
 * caller's window, not reported.
 */
export function incidentChanges(known: Map<string, string>, polled: FeedIncident[]): IncidentChange[] {
  const changes: IncidentChange[] = [];
  for (const incident of [...polled].sort((a, b) => a.openedAt.localeCompare(b.openedAt))) {
    const key = keyOf(incident);
    const before = known.get(key);
    const now = stateOf(incident);
    if (before === undefined) changes.push({ change: 'opened', incident });
    else if (before !== now) changes.push({ change: 'updated', incident });
    known.set(key, now);
  }
  return changes;
}

/** The first page: every incident known, newest first, none reported as a change. */
export function snapshotOf(known: Map<string, string>, polled: FeedIncident[]): FeedIncident[] {
  for (const incident of polled) known.set(keyOf(incident), stateOf(incident));
  return [...polled].sort((a, b) => b.openedAt.localeCompare(a.openedAt));
}
