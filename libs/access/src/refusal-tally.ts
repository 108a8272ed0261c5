/** One aggregated record: how often one origin was refused for one reason within a window. */
export interface RefusalRecord {
  /** The credential id when one was presented and known, else the remote address. */
  origin: string;
  code: string;
  status: number;
  count: number;
  firstAt: Date;
  lastAt: Date;
  windowStart: Date;
}

/** Origins beyond this many in one window are counted under one overflow origin. */
export const REFUSAL_TALLY_MAX_ORIGINS = 1_000;
export const REFUSAL_OVERFLOW_ORIGIN = '(other origins)';

/**
 * Counts refused requests (401/403) per origin and reason in fixed windows, so a flood is
 * recorded as one record with a count per origin and window, never one per request. Memory is
 * bounded: past REFUSAL_TALLY_MAX_ORIGINS distinct origins, the rest share one record.
 */
export class RefusalTally {
  private window: { start: Date; records: Map<string, RefusalRecord> } | null = null;

  constructor(private readonly windowMs: number) {}

  /** Counts one refusal; returns the windows that closed before it (to be recorded now). */
  record(refusal: { origin: string; code: string; status: number }, at: Date): RefusalRecord[] {
    const closed = this.drain(at);
    // A window opens with its first refusal, so a burst is never split by a clock boundary.
    this.window ??= { start: at, records: new Map() };
    const records = this.window.records;
    const origin = records.size >= REFUSAL_TALLY_MAX_ORIGINS && !records.has(`${refusal.origin}\n${refusal.code}`) ? REFUSAL_OVERFLOW_ORIGIN : refusal.origin;
    const key = `${origin}\n${refusal.code}`;
    const existing = records.get(key);
    if (existing) {
      existing.count += 1;
      existing.lastAt = at;
    } else {
      records.set(key, { origin, code: refusal.code, status: refusal.status, count: 1, firstAt: at, lastAt: at, windowStart: this.window.start });
    }
    return closed;
  }

  /** The records of the current window if it has ended by `now` (all of them with `force`). */
  drain(now: Date, force = false): RefusalRecord[] {
    if (!this.window) return [];
    if (!force && now.getTime() < this.window.start.getTime() + this.windowMs) return [];
    const records = [...this.window.records.values()];
    this.window = null;
    return records;
  }
}
