/**
 * What the detector knows about itself when a liveness deadline passes: facts about the observer,
 * never a judgement about the fleet. Whether the fleet looks broken is the decision service's
 * call (its circuit breakers weigh these facts with every tenant's declared inventory); the
 * detector only marks a hang it could not have seen properly.
 *
 * A hang is proven by silence, so it is only as good as the detector's listening: when its
 * deadline timer fires late (the process was paused, starved or blocked), or while a partition
 * takeover holds live health events back, heartbeats may be waiting unread. A crash, a metric
 * breach or an alert is positive evidence and is never marked.
 */
export interface ObserverFacts {
  /** How long after it was due the deadline timer fired (0 when on time or early). */
  timerLateMs: number;
  /** A partition takeover or handover was running: live health events waited unread. */
  handoverRunning: boolean;
}

/** Why a hang is marked as a suspected detector or network fault; carried in the incident's evidence. */
export type ObserverFault = { signal: 'handover' } | { signal: 'timer_late'; lateMs: number };

/**
 * The observer fault behind a hang of an instance heartbeating every `intervalMs`, if any: a
 * running handover, or a timer late by `lateThresholdMs` and by at least one heartbeat interval
 * (later than that, a heartbeat may have arrived and not been read).
 */
export function observerFault(facts: ObserverFacts, intervalMs: number, lateThresholdMs: number): ObserverFault | undefined {
  if (facts.handoverRunning) return { signal: 'handover' };
  if (facts.timerLateMs >= Math.max(lateThresholdMs, intervalMs)) return { signal: 'timer_late', lateMs: Math.round(facts.timerLateMs) };
  return undefined;
}
