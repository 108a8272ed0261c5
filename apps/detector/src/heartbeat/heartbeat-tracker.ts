import { DeadlineHeap } from './deadline-heap.js';

export interface InstanceRef {
  tenantId: string;
  service: string;
  instance: string;
}

/** `stopped`: a planned stop; `exited`: its supervisor saw the process end (a crash). Neither has a deadline. */
export type InstanceState = 'alive' | 'missing' | 'stopped' | 'exited';

export interface TrackedInstance extends InstanceRef {
  intervalMs: number;
  /** Epoch ms of the newest heartbeat seen. */
  lastSeenAt: number;
  state: InstanceState;
}

export interface MissedHeartbeat {
  target: TrackedInstance;
  deadlineAt: number;
  missedIntervals: number;
}

export type HeartbeatObservation = 'first_seen' | 'alive' | 'recovered';

export function instanceKey(ref: InstanceRef): string {
  return `${ref.tenantId}.${ref.service}.${ref.instance}`;
}

/**
 * Per-instance heartbeat state and deadlines, in memory, no I/O. An instance that misses
 * `missedIntervals` of the interval it announced becomes `missing` once (the caller opens
 * an incident); its next heartbeat makes it `recovered` (the caller resolves it).
 */
export class HeartbeatTracker {
  private readonly instances = new Map<string, TrackedInstance>();
  private readonly deadlines = new DeadlineHeap();
  private readonly dirty = new Set<string>();
  /**
   * When this tracker began watching (a restart's `now`). No deadline falls less than one full
   * window after it: heartbeats replayed from the backlog carry old send times, and a deadline
   * computed from one of them would have passed before the newer ones behind it are read.
   */
  private watchingSince = Number.NEGATIVE_INFINITY;

  constructor(private readonly missedIntervals: number) {
    if (!Number.isInteger(missedIntervals) || missedIntervals < 1) throw new Error('missedIntervals must be a positive integer');
  }

  get size(): number {
    return this.instances.size;
  }

  get(ref: InstanceRef): TrackedInstance | undefined {
    return this.instances.get(instanceKey(ref));
  }

  observeHeartbeat(ref: InstanceRef, intervalMs: number, seenAt: number): HeartbeatObservation {
    const key = instanceKey(ref);
    const current = this.instances.get(key);
    this.dirty.add(key);
    if (!current) {
      this.instances.set(key, { ...ref, intervalMs, lastSeenAt: seenAt, state: 'alive' });
      this.deadlines.set(key, this.deadlineAfter(seenAt, intervalMs));
      return 'first_seen';
    }
    const previousState = current.state;
    current.intervalMs = intervalMs;
    current.lastSeenAt = Math.max(current.lastSeenAt, seenAt);
    current.state = 'alive';
    this.deadlines.set(key, this.deadlineAfter(current.lastSeenAt, intervalMs));
    return previousState === 'missing' ? 'recovered' : 'alive';
  }

  /**
   * A planned stop: no deadline until the instance heartbeats again. Returns true when the
   * instance was missing — it spoke, so it is not hung, and its incident should resolve.
   */
  observeStopping(ref: InstanceRef): boolean {
    const key = instanceKey(ref);
    const current = this.instances.get(key);
    if (!current) return false;
    const wasMissing = current.state === 'missing';
    current.state = 'stopped';
    this.deadlines.delete(key);
    this.dirty.add(key);
    return wasMissing;
  }

  /**
   * The supervisor saw the process end. Returns false for an instance that announced a planned
   * stop (its exit is expected); otherwise the deadline goes — the crash is the incident, a
   * hang incident for the same death would be a duplicate.
   */
  observeExited(ref: InstanceRef): boolean {
    const key = instanceKey(ref);
    const current = this.instances.get(key);
    if (current?.state === 'stopped') return false;
    if (current) {
      current.state = 'exited';
      this.deadlines.delete(key);
      this.dirty.add(key);
    }
    return true;
  }

  /** Looks at a missing instance again at `at` (a maintenance window may be over by then). */
  recheckAt(ref: InstanceRef, at: number): void {
    const key = instanceKey(ref);
    if (this.instances.get(key)?.state === 'missing') this.deadlines.set(key, at);
  }

  nextDeadline(): number | undefined {
    return this.deadlines.peek()?.deadline;
  }

  /** Every instance whose deadline passed by `now`, now marked missing. */
  expire(now: number): MissedHeartbeat[] {
    return this.deadlines.popDue(now).map(({ key, deadline }) => {
      const target = this.instances.get(key)!;
      target.state = 'missing';
      this.dirty.add(key);
      return { target: { ...target }, deadlineAt: deadline, missedIntervals: this.missedIntervals };
    });
  }

  /**
   * Restores saved state of instances this tracker takes on (at boot, or when a partition moves
   * here). Heartbeats the saved state does not hold may be gone, so every instance gets at
   * least one full window from `now` before it can be declared missing: a takeover must not
   * open incidents on its own.
   */
  restore(saved: TrackedInstance[], now: number): void {
    this.watchingSince = Math.max(this.watchingSince, now);
    for (const s of saved) {
      const key = instanceKey(s);
      this.instances.set(key, { ...s });
      if (s.state === 'alive') this.deadlines.set(key, this.deadlineAfter(s.lastSeenAt, s.intervalMs));
    }
  }

  /** Drops every instance `belongs` picks (its partition moved to another detector): no deadline, nothing to save. */
  forget(belongs: (ref: InstanceRef) => boolean): number {
    let dropped = 0;
    for (const [key, tracked] of this.instances) {
      if (!belongs(tracked)) continue;
      this.instances.delete(key);
      this.deadlines.delete(key);
      this.dirty.delete(key);
      dropped++;
    }
    return dropped;
  }

  private deadlineAfter(lastSeenAt: number, intervalMs: number): number {
    const window = intervalMs * this.missedIntervals;
    return Math.max(lastSeenAt, this.watchingSince) + window;
  }

  /** Instances changed since the last call; the caller persists them. */
  takeDirty(): TrackedInstance[] {
    const out: TrackedInstance[] = [];
    for (const key of this.dirty) {
      const i = this.instances.get(key);
      if (i) out.push({ ...i });
    }
    this.dirty.clear();
    return out;
  }

  /** Puts instances back in the dirty set after a failed save. */
  markDirty(instances: InstanceRef[]): void {
    for (const i of instances) this.dirty.add(instanceKey(i));
  }
}
