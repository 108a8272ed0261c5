/**
 * When a remediation being verified is verified or fails, from the times alone (pure; the clock
 * is passed in). The rule: the incident resolves, and — when the playbook sets a verify window —
 * the target's health then holds for the window (no new incident on the same tenant, service and
 * instance), all before the deadline. The detector resolves an incident from the target's own
 * signals (heartbeats from the new instance, the error rate back under its threshold), so a
 * window with no new incident is the target's own health holding.
 */

/** What is known about a remediation being verified. */
export interface VerificationTimes {
  /** When the driver reported success. */
  executedAt: Date;
  /** When the incident must have resolved (and the window held) by. */
  deadline: Date;
  /** The playbook's verify window; absent: verified at the resolution. */
  windowMs?: number;
  /** When the incident resolved, if it has. */
  resolvedAt: Date | null;
}

export type VerificationJudgement =
  /** Proven at `at`: the resolution (no window) or the end of the window. */
  | { kind: 'verified'; at: Date; by: 'incident_resolved' | 'health_held' }
  /** Resolved; the health must hold until `until` (within the deadline). */
  | { kind: 'hold'; until: Date }
  /** Nothing to say yet: the incident is still open before the deadline. */
  | { kind: 'wait' }
  /** Not proven by the deadline; `reason` says why. */
  | { kind: 'failed'; reason: string };

/** The hold starts when both have happened: the driver's success and the resolution. */
export function holdStartOf(executedAt: Date, resolvedAt: Date): Date {
  return new Date(Math.max(executedAt.getTime(), resolvedAt.getTime()));
}

/**
 * Judges a verification at `now`. A resolution without a window verifies at once (at the later of
 * the success and the resolution); with a window, the hold ends at that time + the window, and
 * is verified once `now` reaches it — unless it would end after the deadline, which fails at the
 * deadline (the deadline bounds everything).
 */
export function judgeVerification(t: VerificationTimes, now: Date): VerificationJudgement {
  const deadline = t.deadline.getTime();
  if (t.resolvedAt) {
    const start = holdStartOf(t.executedAt, t.resolvedAt);
    if (t.windowMs === undefined) return { kind: 'verified', at: start, by: 'incident_resolved' };
    const until = start.getTime() + t.windowMs;
    if (until <= deadline) return now.getTime() >= until ? { kind: 'verified', at: new Date(until), by: 'health_held' } : { kind: 'hold', until: new Date(until) };
    if (now.getTime() < deadline) return { kind: 'hold', until: new Date(until) };
    return {
      kind: 'failed',
      reason: `the incident resolved at ${t.resolvedAt.toISOString()}, too late for the target's health to hold for the ${t.windowMs} ms verify window before the verification deadline ${t.deadline.toISOString()}`,
    };
  }
  if (now.getTime() < deadline) return { kind: 'wait' };
  return { kind: 'failed', reason: `the incident was still open at the verification deadline ${t.deadline.toISOString()}` };
}

/** A hold in progress on a target. */
export interface Hold {
  /** When the hold started: the later of the driver's success and the resolution. */
  since: Date;
  until: Date;
}

/**
 * A new incident on a target being held is a relapse when it began inside the hold: the fix did
 * not hold. One that began before the hold (a late or redelivered report of something earlier)
 * or after it ended is not.
 */
export function isRelapse(hold: Hold, incidentSignalAt: Date): boolean {
  const at = incidentSignalAt.getTime();
  return at >= hold.since.getTime() && at < hold.until.getTime();
}

/** Why a verification failed by relapse, naming the new incident (completes "… was reported done at … but "). */
export function relapseReason(hold: Hold, windowMs: number, relapseIncidentId: string, signalAt: Date): string {
  return `the target relapsed: incident ${relapseIncidentId} began on the same target at ${signalAt.toISOString()}, ${signalAt.getTime() - hold.since.getTime()} ms into the ${windowMs} ms verify window that started at ${hold.since.toISOString()}, so its health did not hold`;
}

/** The hold of a row being held: it started `windowMs` before it ends. */
export function holdOf(holdUntil: Date, windowMs: number): Hold {
  return { since: new Date(holdUntil.getTime() - windowMs), until: holdUntil };
}
