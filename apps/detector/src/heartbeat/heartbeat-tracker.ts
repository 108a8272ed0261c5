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

/**
 * `stale`: a heartbeat sent no later than the instance's recorded stop or exit, read after it (two
 * requests of one producer answered out of order, a producer publishing over NATS directly, a
 * crash report let ahead of waiting heartbeats): it changes nothing.
 */
export type HeartbeatObservation = 'first_seen' | 'alive' | 'recovered' | 'stale';

export function instanceKey(ref: InstanceRef): string {
  return `${ref.tenantId}.${ref.service}.${ref.instance}`;
}

/**
 * What the tracker keeps per instance: the public state plus its deadline bookkeeping.
 * `dueAt` is the instance's true deadline; `heapAt` the one the heap holds for it (undefined:
 * not in the heap). A heartbeat only ever moves a deadline later, so it just writes `dueAt`;
 * the heap learns of it when the stale, earlier entry comes up — see `expire`.
 */
interface Watched extends TrackedInstance {
  dueAt: number | undefined;
  heapAt: number | undefined;
  /** `lastSeenAt` as last handed out to be saved (or restored); undefined: never saved. */
  savedSeenAt: number | undefined;
  /**
   * When the stop or exit that put the instance in `stopped` or `exited` happened (the event's own
   * time); undefined otherwise, and for one restored so (kept in memory only: after a restart the
   * next heartbeat counts, as it always did).
   */
  endedAt: number | undefined;
}

function publicView(w: TrackedInstance): TrackedInstance {
  return { tenantId: w.tenantId, service: w.service, instance: w.instance, intervalMs: w.intervalMs, lastSeenAt: w.lastSeenAt, state: w.state };
}

/**
 * Per-instance heartbeat state and deadlines, in memory, no I/O. An instance that misses
 * `missedIntervals` of the interval it announced becomes `missing` once (the caller opens
 * an incident); its next heartbeat makes it `recovered` (the caller resolves it).
 *
 * Deadlines sit in a min-heap, extended lazily: a heartbeat that pushes a deadline later (nearly
 * every one) costs no heap operation; when the heap's stale entry comes due, it is put back at
 * the true deadline instead of expiring. With 100,000 instances a sift per heartbeat was a
 * tenth of the detector's time; now each instance is re-sifted about once per window.
 */
export class HeartbeatTracker {
  private readonly instances = new Map<string, Watched>();
  private readonly deadlines = new DeadlineHeap();
  private readonly dirty = new Set<string>();
  /**
   * When this tracker began watching (a restart's `now`). No deadline falls less than one full
   * window after it: heartbeats replayed from the backlog carry old send times, and a deadline
   * computed from one of them would have passed before the newer ones behind it are read.
   */
  private watchingSince = Number.NEGATIVE_INFINITY;

  /**
   * @param lastSeenPrecisionMs A heartbeat that changes nothing but an alive instance's
   *   `lastSeenAt` marks it for saving only once that moved this far since the last save. The
   *   saved time decides no deadline (a restored instance gets a full window from the restore);
   *   it is the evidence's "last heartbeat" of an instance that died across a restart. Saving
   *   every heartbeat of 100,000 instances kept Postgres writing as fast as they arrived.
   */
  constructor(
    private readonly missedIntervals: number,
    private readonly lastSeenPrecisionMs = 0,
  ) {
    if (!Number.isInteger(missedIntervals) || missedIntervals < 1) throw new Error('missedIntervals must be a positive integer');
    if (!(lastSeenPrecisionMs >= 0)) throw new Error('lastSeenPrecisionMs must be zero or more');
  }

  get size(): number {
    return this.instances.size;
  }

  get(ref: InstanceRef): TrackedInstance | undefined {
    const w = this.instances.get(instanceKey(ref));
    return w && publicView(w);
  }

  observeHeartbeat(ref: InstanceRef, intervalMs: number, seenAt: number): HeartbeatObservation {
    const key = instanceKey(ref);
    const current = this.instances.get(key);
    if (!current) {
      const added: Watched = {
        tenantId: ref.tenantId,
        service: ref.service,
        instance: ref.instance,
        intervalMs,
        lastSeenAt: seenAt,
        state: 'alive',
        dueAt: undefined,
        heapAt: undefined,
        savedSeenAt: undefined,
        endedAt: undefined,
      };
      this.instances.set(key, added);
      this.dirty.add(key);
      this.setDeadline(key, added, this.deadlineAfter(seenAt, intervalMs));
      return 'first_seen';
    }
    // Judged by the events' own times, not by the order they arrive in: a heartbeat from before the
    // stop or exit would otherwise bring the instance back, and its deadline would then open a hang
    // for a process that is gone (a false alarm after a planned stop, a duplicate of the crash).
    if (current.endedAt !== undefined && seenAt <= current.endedAt) return 'stale';
    const previousState = current.state;
    const lastSeenAt = Math.max(current.lastSeenAt, seenAt);
    if (previousState !== 'alive' || intervalMs !== current.intervalMs || this.lastSeenWorthSaving(current, lastSeenAt)) this.dirty.add(key);
    current.intervalMs = intervalMs;
    current.lastSeenAt = lastSeenAt;
    current.state = 'alive';
    current.endedAt = undefined;
    this.setDeadline(key, current, this.deadlineAfter(current.lastSeenAt, intervalMs));
    return previousState === 'missing' ? 'recovered' : 'alive';
  }

  /**
   * A planned stop, announced at `at`: no deadline until the instance heartbeats again with a
   * heartbeat sent after `at`. Returns true when the instance was missing — it spoke, so it is not
   * hung, and its incident should resolve.
   */
  observeStopping(ref: InstanceRef, at: number): boolean {
    const key = instanceKey(ref);
    const current = this.instances.get(key);
    if (!current) return false;
    const wasMissing = current.state === 'missing';
    current.state = 'stopped';
    current.endedAt = at;
    this.clearDeadline(key, current);
    this.dirty.add(key);
    return wasMissing;
  }

  /**
   * The supervisor saw the process end at `at`. Returns false for an instance that announced a
   * planned stop (its exit is expected); otherwise the deadline goes — the crash is the incident,
   * a hang incident for the same death would be a duplicate — until a heartbeat sent after `at`.
   */
  observeExited(ref: InstanceRef, at: number): boolean {
    const key = instanceKey(ref);
    const current = this.instances.get(key);
    if (current?.state === 'stopped') return false;
    if (current) {
      current.state = 'exited';
      current.endedAt = at;
      this.clearDeadline(key, current);
      this.dirty.add(key);
    }
    return true;
  }

  /** Looks at a missing instance again at `at` (a maintenance window may be over by then). */
  recheckAt(ref: InstanceRef, at: number): void {
    const key = instanceKey(ref);
    const current = this.instances.get(key);
    if (current?.state !== 'missing') return;
    // Possibly earlier than a deadline it holds: set exactly, not lazily.
    this.deadlines.set(key, at);
    current.dueAt = current.heapAt = at;
  }

  /**
   * When to call `expire` next. May be earlier than any true deadline (a stale entry of an
   * instance that heartbeated since): `expire` then finds nothing due and puts it back.
   */
  nextDeadline(): number | undefined {
    return this.deadlines.peek()?.deadline;
  }

  /** Every instance whose deadline passed by `now`, now marked missing. */
  expire(now: number): MissedHeartbeat[] {
    const missed: MissedHeartbeat[] = [];
    for (const { key } of this.deadlines.popDue(now)) {
      const target = this.instances.get(key)!;
      target.heapAt = undefined;
      const dueAt = target.dueAt!;
      if (dueAt > now) {
        // Heartbeats moved it on since this entry was set: not due, back in at its true deadline.
        this.deadlines.set(key, dueAt);
        target.heapAt = dueAt;
        continue;
      }
      target.dueAt = undefined;
      target.state = 'missing';
      this.dirty.add(key);
      missed.push({ target: publicView(target), deadlineAt: dueAt, missedIntervals: this.missedIntervals });
    }
    // Earliest first, as the heap gave them (a re-set entry can't fall between: it is > now).
    return missed;
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
      const restored: Watched = { ...publicView(s), dueAt: undefined, heapAt: undefined, savedSeenAt: s.lastSeenAt, endedAt: undefined };
      const previous = this.instances.get(key);
      if (previous) this.clearDeadline(key, previous);
      this.instances.set(key, restored);
      if (s.state === 'alive') this.setDeadline(key, restored, this.deadlineAfter(s.lastSeenAt, s.intervalMs));
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

  /** Drops one instance (forgotten after a long silence): no deadline, nothing to save. */
  remove(ref: InstanceRef): void {
    const key = instanceKey(ref);
    if (!this.instances.delete(key)) return;
    this.deadlines.delete(key);
    this.dirty.delete(key);
  }

  private lastSeenWorthSaving(w: Watched, lastSeenAt: number): boolean {
    return w.savedSeenAt === undefined || lastSeenAt - w.savedSeenAt >= this.lastSeenPrecisionMs;
  }

  /** Moves the instance's deadline; touches the heap only when it has no entry or one later than `dueAt`. */
  private setDeadline(key: string, w: Watched, dueAt: number): void {
    w.dueAt = dueAt;
    if (w.heapAt !== undefined && w.heapAt <= dueAt) return;
    this.deadlines.set(key, dueAt);
    w.heapAt = dueAt;
  }

  private clearDeadline(key: string, w: Watched): void {
    w.dueAt = undefined;
    if (w.heapAt === undefined) return;
    this.deadlines.delete(key);
    w.heapAt = undefined;
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
      if (!i) continue;
      i.savedSeenAt = i.lastSeenAt;
      out.push(publicView(i));
    }
    this.dirty.clear();
    return out;
  }

  /** Puts instances back in the dirty set after a failed save. */
  markDirty(instances: InstanceRef[]): void {
    for (const i of instances) this.dirty.add(instanceKey(i));
  }
}
