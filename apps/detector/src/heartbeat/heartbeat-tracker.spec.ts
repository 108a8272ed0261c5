import fc from 'fast-check';
import { HeartbeatTracker, type InstanceRef } from './heartbeat-tracker.js';

const api1: InstanceRef = { tenantId: 'acme', service: 'api', instance: 'api-1' };
const api2: InstanceRef = { tenantId: 'acme', service: 'api', instance: 'api-2' };

describe('HeartbeatTracker', () => {
  it.each([
    { name: 'within the window: nothing missed', beats: [0, 1000, 2000], now: 4999, missed: [] as string[] },
    { name: 'exactly N intervals after the last beat: missed', beats: [0, 1000, 2000], now: 5000, missed: ['api-1'] },
    { name: 'a late beat moves the deadline', beats: [0, 4000], now: 6999, missed: [] },
    { name: 'an out-of-order older beat does not move it back', beats: [4000, 1000], now: 6999, missed: [] },
  ])('$name', ({ beats, now, missed }) => {
    const tracker = new HeartbeatTracker(3);
    for (const at of beats) tracker.observeHeartbeat(api1, 1000, at);
    expect(tracker.expire(now).map((m) => m.target.instance)).toEqual(missed);
  });

  it('reports a missed instance once, then recovered on its next heartbeat', () => {
    const tracker = new HeartbeatTracker(3);
    expect(tracker.observeHeartbeat(api1, 1000, 0)).toBe('first_seen');
    tracker.observeHeartbeat(api2, 500, 0);
    const missed = tracker.expire(10_000);
    expect(missed.map((m) => [m.target.instance, m.deadlineAt])).toEqual([
      ['api-2', 1500],
      ['api-1', 3000],
    ]);
    expect(tracker.expire(20_000)).toEqual([]);
    expect(tracker.observeHeartbeat(api1, 1000, 20_001)).toBe('recovered');
    expect(tracker.observeHeartbeat(api1, 1000, 21_000)).toBe('alive');
  });

  it('opens nothing for a planned stop', () => {
    const tracker = new HeartbeatTracker(3);
    tracker.observeHeartbeat(api1, 1000, 0);
    tracker.observeStopping(api1, 500);
    expect(tracker.expire(60_000)).toEqual([]);
    expect(tracker.get(api1)?.state).toBe('stopped');
  });

  it('gives restored instances a full window after a restart', () => {
    const tracker = new HeartbeatTracker(3);
    tracker.restore([{ ...api1, intervalMs: 1000, lastSeenAt: 0, state: 'alive' }, { ...api2, intervalMs: 1000, lastSeenAt: 0, state: 'missing' }], 50_000);
    expect(tracker.expire(52_999)).toEqual([]);
    expect(tracker.expire(53_000).map((m) => m.target.instance)).toEqual(['api-1']);
    expect(tracker.observeHeartbeat(api2, 1000, 53_001)).toBe('recovered');
  });

  it('lets no heartbeat replayed after a restart set a deadline inside the first window', () => {
    const tracker = new HeartbeatTracker(3);
    tracker.restore([{ ...api1, intervalMs: 1000, lastSeenAt: 40_000, state: 'alive' }], 50_000);
    // Sent while the detector was down, read after it came back: not a reason to open at once.
    tracker.observeHeartbeat(api1, 1000, 45_000);
    tracker.observeHeartbeat(api2, 1000, 46_000);
    expect(tracker.expire(52_999)).toEqual([]);
    expect(tracker.expire(53_000).map((m) => m.target.instance).sort()).toEqual(['api-1', 'api-2']);
  });

  it('never reports an instance missing twice without a heartbeat between (any sequence)', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('beat' as const), at: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ kind: fc.constant('tick' as const), at: fc.integer({ min: 0, max: 100 }) }),
      fc.constant({ kind: 'stop' as const, at: 0 }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 100 }), (steps) => {
        const tracker = new HeartbeatTracker(2);
        let clock = 0;
        let open = false;
        for (const s of steps) {
          clock += s.at * 10;
          if (s.kind === 'beat') {
            const seen = tracker.observeHeartbeat(api1, 100, clock);
            if (seen === 'recovered') {
              expect(open).toBe(true);
              open = false;
            }
          } else if (s.kind === 'stop') {
            if (tracker.observeStopping(api1, clock)) {
              expect(open).toBe(true);
              open = false;
            }
          } else {
            for (const m of tracker.expire(clock)) {
              expect(open).toBe(false);
              expect(clock).toBeGreaterThanOrEqual(m.deadlineAt);
              open = true;
            }
          }
        }
      }),
    );
  });
  it('an exit removes the deadline unless the instance announced a planned stop', () => {
    const tracker = new HeartbeatTracker(3);
    tracker.observeHeartbeat(api1, 1000, 0);
    tracker.observeHeartbeat(api2, 1000, 0);
    expect(tracker.observeExited(api1, 500)).toBe(true);
    tracker.observeStopping(api2, 500);
    expect(tracker.observeExited(api2, 600)).toBe(false);
    expect(tracker.get(api1)?.state).toBe('exited');
    expect(tracker.expire(10_000)).toEqual([]);
    expect(tracker.observeHeartbeat(api1, 1000, 11_000)).toBe('alive');
    expect(tracker.expire(13_999)).toEqual([]);
    expect(tracker.expire(14_000).map((m) => m.target.instance)).toEqual(['api-1']);
  });

  it("judges a heartbeat against the stop or exit by the events' own times, not by the order they arrive in", () => {
    const tracker = new HeartbeatTracker(3);
    tracker.observeHeartbeat(api1, 1000, 0);
    tracker.observeHeartbeat(api2, 1000, 0);
    tracker.observeStopping(api1, 2_000);
    tracker.observeExited(api2, 2_000);
    tracker.takeDirty();
    // Sent before (or at) the stop and the exit, read after them: nothing changes, no deadline comes back.
    expect(tracker.observeHeartbeat(api1, 1000, 1_900)).toBe('stale');
    expect(tracker.observeHeartbeat(api2, 1000, 2_000)).toBe('stale');
    expect(tracker.get(api1)).toMatchObject({ state: 'stopped', lastSeenAt: 0 });
    expect(tracker.get(api2)).toMatchObject({ state: 'exited', lastSeenAt: 0 });
    expect(tracker.takeDirty()).toEqual([]);
    expect(tracker.expire(60_000)).toEqual([]);
    // Sent after it: the instance (a restarted process under the same name) is back, with a deadline.
    expect(tracker.observeHeartbeat(api2, 1000, 60_001)).toBe('alive');
    expect(tracker.observeHeartbeat(api2, 1000, 59_000)).toBe('alive');
    expect(tracker.expire(63_001).map((m) => m.target.instance)).toEqual(['api-2']);
  });

  it('rechecks a missing instance at the time asked, and only a missing one', () => {
    const tracker = new HeartbeatTracker(3);
    tracker.observeHeartbeat(api1, 1000, 0);
    tracker.observeHeartbeat(api2, 1000, 0);
    expect(tracker.expire(3_000)).toHaveLength(2);
    tracker.observeHeartbeat(api2, 1000, 3_500);
    tracker.recheckAt(api1, 5_000);
    tracker.recheckAt(api2, 4_000);
    expect(tracker.expire(4_999).map((m) => m.target.instance)).toEqual([]);
    expect(tracker.expire(5_000).map((m) => [m.target.instance, m.deadlineAt])).toEqual([['api-1', 5_000]]);
  });

  it('forgets the instances of a partition handed over: no deadline, nothing left to save', () => {
    const tracker = new HeartbeatTracker(3);
    tracker.observeHeartbeat(api1, 1000, 0);
    tracker.observeHeartbeat(api2, 1000, 0);
    expect(tracker.forget((ref) => ref.instance === 'api-1')).toBe(1);
    expect(tracker.size).toBe(1);
    expect(tracker.get(api1)).toBeUndefined();
    expect(tracker.takeDirty().map((t) => t.instance)).toEqual(['api-2']);
    expect(tracker.expire(10_000).map((m) => m.target.instance)).toEqual(['api-2']);
  });

  it('removes one forgotten instance: no deadline, nothing to save, and it is new when heard from again', () => {
    const tracker = new HeartbeatTracker(3);
    tracker.observeHeartbeat(api1, 1000, 0);
    tracker.observeHeartbeat(api2, 1000, 0);
    tracker.remove(api1);
    tracker.remove(api1);
    expect(tracker.size).toBe(1);
    expect(tracker.takeDirty().map((t) => t.instance)).toEqual(['api-2']);
    expect(tracker.expire(10_000).map((m) => m.target.instance)).toEqual(['api-2']);
    expect(tracker.observeHeartbeat(api1, 1000, 10_000)).toBe('first_seen');
  });

  it('gives instances taken over a full window from the takeover, however old their last heartbeat', () => {
    const tracker = new HeartbeatTracker(3);
    tracker.observeHeartbeat(api1, 1000, 0);
    tracker.restore([{ ...api2, intervalMs: 1000, lastSeenAt: 0, state: 'alive' }], 10_000);
    expect(tracker.expire(12_999).map((m) => m.target.instance)).toEqual(['api-1']);
    expect(tracker.expire(13_000).map((m) => m.target.instance)).toEqual(['api-2']);
  });

  it('extends a deadline without touching the heap, and puts a stale entry back instead of expiring it', () => {
    const tracker = new HeartbeatTracker(3);
    tracker.observeHeartbeat(api1, 1000, 0);
    tracker.observeHeartbeat(api1, 1000, 2_000);
    // The heap still holds the first deadline: the next wake-up may come early, never late.
    expect(tracker.nextDeadline()).toBe(3_000);
    expect(tracker.expire(3_000)).toEqual([]);
    expect(tracker.nextDeadline()).toBe(5_000);
    expect(tracker.expire(5_000).map((m) => [m.target.instance, m.deadlineAt])).toEqual([['api-1', 5_000]]);
  });

  it('moves a deadline earlier at once when the announced interval shrinks', () => {
    const tracker = new HeartbeatTracker(3);
    tracker.observeHeartbeat(api1, 10_000, 0);
    tracker.observeHeartbeat(api1, 100, 1_000);
    expect(tracker.nextDeadline()).toBe(1_300);
    expect(tracker.expire(1_300).map((m) => m.deadlineAt)).toEqual([1_300]);
  });

  it('reports exactly what a scan of every instance would (any sequence, several instances)', () => {
    const refs = ['a', 'b', 'c', 'd'].map((instance) => ({ tenantId: 't', service: 's', instance }));
    const step = fc.record({
      kind: fc.constantFrom('beat', 'beat', 'beat', 'tick', 'stop', 'exit', 'recheck'),
      who: fc.integer({ min: 0, max: refs.length - 1 }),
      interval: fc.constantFrom(50, 100, 400),
      advance: fc.integer({ min: 0, max: 300 }),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 150 }), (steps) => {
        const tracker = new HeartbeatTracker(2);
        // The model: each instance's deadline, checked by scanning all of them.
        const model = new Map<string, { dueAt: number | undefined; missing: boolean; lastSeenAt: number; endedAt: number | undefined }>();
        let clock = 0;
        for (const s of steps) {
          clock += s.advance;
          const ref = refs[s.who];
          const m = model.get(ref.instance);
          if (s.kind === 'beat') {
            tracker.observeHeartbeat(ref, s.interval, clock);
            // A heartbeat at the very time of the stop or exit counts as sent before it.
            if (m?.endedAt === undefined || clock > m.endedAt) {
              const lastSeenAt = Math.max(m?.lastSeenAt ?? clock, clock);
              model.set(ref.instance, { dueAt: lastSeenAt + 2 * s.interval, missing: false, lastSeenAt, endedAt: undefined });
            }
          } else if (s.kind === 'stop') {
            tracker.observeStopping(ref, clock);
            if (m) model.set(ref.instance, { ...m, dueAt: undefined, missing: false, endedAt: clock });
          } else if (s.kind === 'exit') {
            if (tracker.get(ref)?.state !== 'stopped') {
              tracker.observeExited(ref, clock);
              if (m) model.set(ref.instance, { ...m, dueAt: undefined, missing: false, endedAt: clock });
            }
          } else if (s.kind === 'recheck') {
            tracker.recheckAt(ref, clock + s.interval);
            if (m?.missing) model.set(ref.instance, { ...m, dueAt: clock + s.interval });
          } else {
            const expected = [...model.entries()]
              .filter(([, v]) => v.dueAt !== undefined && v.dueAt <= clock)
              .map(([instance, v]) => [instance, v.dueAt] as [string, number])
              .sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0]));
            for (const [instance] of expected) model.set(instance, { ...model.get(instance)!, dueAt: undefined, missing: true });
            const got = tracker
              .expire(clock)
              .map((x) => [x.target.instance, x.deadlineAt] as [string, number])
              .sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0]));
            expect(got).toEqual(expected);
            const next = tracker.nextDeadline();
            const earliest = Math.min(...[...model.values()].map((v) => v.dueAt ?? Number.POSITIVE_INFINITY));
            // Never later than the earliest true deadline, so a timer on it never fires late.
            if (Number.isFinite(earliest)) expect(next).toBeLessThanOrEqual(earliest);
          }
        }
      }),
    );
  });

  it('saves a heartbeat that only moves the last-seen time once it moved the precision since the last save', () => {
    const tracker = new HeartbeatTracker(3, 10_000);
    tracker.observeHeartbeat(api1, 1000, 0);
    expect(tracker.takeDirty().map((t) => [t.instance, t.lastSeenAt])).toEqual([['api-1', 0]]);
    tracker.observeHeartbeat(api1, 1000, 1_000);
    tracker.observeHeartbeat(api1, 1000, 9_999);
    expect(tracker.takeDirty()).toEqual([]);
    tracker.observeHeartbeat(api1, 1000, 10_000);
    expect(tracker.takeDirty().map((t) => [t.instance, t.lastSeenAt])).toEqual([['api-1', 10_000]]);
    // The deadline follows every heartbeat, saved or not.
    tracker.observeHeartbeat(api1, 1000, 12_000);
    expect(tracker.expire(14_999)).toEqual([]);
    expect(tracker.expire(15_000).map((m) => m.deadlineAt)).toEqual([15_000]);
  });

  it('saves at once what changes more than the last-seen time: a recovery, a new interval', () => {
    const tracker = new HeartbeatTracker(3, 60_000);
    tracker.observeHeartbeat(api1, 1000, 0);
    tracker.takeDirty();
    tracker.observeHeartbeat(api1, 2000, 1_000);
    expect(tracker.takeDirty().map((t) => t.intervalMs)).toEqual([2000]);
    tracker.expire(10_000);
    expect(tracker.takeDirty().map((t) => t.state)).toEqual(['missing']);
    tracker.observeHeartbeat(api1, 2000, 10_001);
    expect(tracker.takeDirty().map((t) => t.state)).toEqual(['alive']);
  });

  it('counts the precision from the restored state after a restart', () => {
    const tracker = new HeartbeatTracker(3, 10_000);
    tracker.restore([{ ...api1, intervalMs: 1000, lastSeenAt: 50_000, state: 'alive' }], 55_000);
    tracker.observeHeartbeat(api1, 1000, 55_000);
    expect(tracker.takeDirty()).toEqual([]);
    tracker.observeHeartbeat(api1, 1000, 60_000);
    expect(tracker.takeDirty().map((t) => t.lastSeenAt)).toEqual([60_000]);
  });
});
