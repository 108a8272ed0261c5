import type { JsonValue } from './hash-chain.js';

/** What a request to the audit API asked for. `full_verify` is a verification from seq 1. */
/** `export` reads like a full verification (every row of a range) and takes from the same budget. */
/** What a read was: a page of the trail, a verification, an export, one of the views derived from it (src/incidents), or a compliance report (src/reports). */
export type ReadKind = 'list' | 'verify' | 'full_verify' | 'export' | 'incidents' | 'timeline' | 'remediations' | 'approvals' | 'report';

/** One request to a tenant's audit API, as the trail will count it. */
export interface ReadNote {
  tenantId: string;
  /** The API key id. */
  actor: string;
  outcome: 'success' | 'refused';
  /** What was asked; null for a refusal before the route was known to be served. */
  kind: ReadKind | null;
  /** HTTP status of a refusal (401, 403, 429). */
  status?: number;
  /** `GET /v1/tenants/acme/audit from 10.0.0.7` */
  source: string;
  atMs: number;
  returnedItems?: number;
  query?: { [key: string]: JsonValue };
}

/** Reads by one actor of one tenant, with one outcome, while a window is open. */
export interface ReadWindow {
  tenantId: string;
  actor: string;
  outcome: 'success' | 'refused';
  openedAtMs: number;
  lastAtMs: number;
  count: number;
  kinds: Partial<Record<ReadKind, number>>;
  /** Refusals by HTTP status. */
  statuses: Record<string, number>;
  returnedItems: number;
  /** The first few distinct sources and queries (a flood does not grow a row without bound). */
  sources: string[];
  queries: { [key: string]: JsonValue }[];
}

/** Distinct sources and queries kept per window. */
export const SAMPLES_PER_WINDOW = 5;

export interface ReadWindowLimits {
  windowMs: number;
  /** Open windows at most; past it new ones are dropped (and counted) rather than grow memory. */
  maxOpenWindows: number;
}

function keyOf(note: Pick<ReadNote, 'tenantId' | 'actor' | 'outcome'>): string {
  return `${note.outcome}\u0000${note.tenantId}\u0000${note.actor}`;
}

function addSample<T>(samples: T[], value: T, same: (a: T, b: T) => boolean): void {
  if (samples.length < SAMPLES_PER_WINDOW && !samples.some((s) => same(s, value))) samples.push(value);
}

/**
 * Counts a request into its window, opening one if none is open for this tenant, actor and
 * outcome. Returns what happened: `opened` (a new window, due at `openedAtMs + windowMs`),
 * `counted`, or `dropped` when `maxOpenWindows` are already open.
 */
export function noteRead(windows: Map<string, ReadWindow>, note: ReadNote, limits: ReadWindowLimits): 'opened' | 'counted' | 'dropped' {
  const key = keyOf(note);
  let window = windows.get(key);
  let result: 'opened' | 'counted' = 'counted';
  if (!window) {
    if (windows.size >= limits.maxOpenWindows) return 'dropped';
    window = {
      tenantId: note.tenantId,
      actor: note.actor,
      outcome: note.outcome,
      openedAtMs: note.atMs,
      lastAtMs: note.atMs,
      count: 0,
      kinds: {},
      statuses: {},
      returnedItems: 0,
      sources: [],
      queries: [],
    };
    windows.set(key, window);
    result = 'opened';
  }
  window.count += 1;
  window.lastAtMs = Math.max(window.lastAtMs, note.atMs);
  if (note.kind) window.kinds[note.kind] = (window.kinds[note.kind] ?? 0) + 1;
  if (note.status !== undefined) window.statuses[String(note.status)] = (window.statuses[String(note.status)] ?? 0) + 1;
  window.returnedItems += note.returnedItems ?? 0;
  addSample(window.sources, note.source, (a, b) => a === b);
  if (note.query) addSample(window.queries, note.query, (a, b) => JSON.stringify(a) === JSON.stringify(b));
  return result;
}

/** Removes and returns the windows that have been open `windowMs` or longer at `nowMs` (all of them with `nowMs = Infinity`). */
export function takeClosedWindows(windows: Map<string, ReadWindow>, nowMs: number, windowMs: number): ReadWindow[] {
  const closed: ReadWindow[] = [];
  for (const [key, window] of windows) {
    if (window.openedAtMs + windowMs <= nowMs) {
      closed.push(window);
      windows.delete(key);
    }
  }
  return closed.sort((a, b) => a.openedAtMs - b.openedAtMs);
}

/** When the earliest open window is due, or null with none open. */
export function nextDueMs(windows: Map<string, ReadWindow>, windowMs: number): number | null {
  let earliest: number | null = null;
  for (const window of windows.values()) if (earliest === null || window.openedAtMs < earliest) earliest = window.openedAtMs;
  return earliest === null ? null : earliest + windowMs;
}
