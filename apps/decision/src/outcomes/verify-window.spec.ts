import { holdOf, holdStartOf, isRelapse, judgeVerification, relapseReason, type VerificationJudgement, type VerificationTimes } from './verify-window.js';

const T0 = Date.parse('2026-06-01T12:00:00Z');
const at = (ms: number): Date => new Date(T0 + ms);

describe('judgeVerification', () => {
  // The driver reported success at T0; the deadline is a minute later.
  const base: VerificationTimes = { executedAt: at(0), deadline: at(60_000), resolvedAt: null };
  const cases: { name: string; times: Partial<VerificationTimes>; now: number; expected: VerificationJudgement }[] = [
    { name: 'still open before the deadline: wait', times: {}, now: 59_999, expected: { kind: 'wait' } },
    {
      name: 'still open at the deadline: failed',
      times: {},
      now: 60_000,
      expected: { kind: 'failed', reason: `the incident was still open at the verification deadline ${at(60_000).toISOString()}` },
    },
    { name: 'no window: verified at the resolution', times: { resolvedAt: at(5_000) }, now: 5_000, expected: { kind: 'verified', at: at(5_000), by: 'incident_resolved' } },
    {
      name: 'no window, resolved while the action ran: verified at the success',
      times: { resolvedAt: at(-2_000) },
      now: 0,
      expected: { kind: 'verified', at: at(0), by: 'incident_resolved' },
    },
    { name: 'window: the resolution starts a hold', times: { resolvedAt: at(5_000), windowMs: 20_000 }, now: 5_000, expected: { kind: 'hold', until: at(25_000) } },
    { name: 'window: not held yet a millisecond before it ends', times: { resolvedAt: at(5_000), windowMs: 20_000 }, now: 24_999, expected: { kind: 'hold', until: at(25_000) } },
    {
      name: 'window: held when it ends, verified at its end',
      times: { resolvedAt: at(5_000), windowMs: 20_000 },
      now: 25_000,
      expected: { kind: 'verified', at: at(25_000), by: 'health_held' },
    },
    {
      name: 'window judged late (the worker was busy): still verified at the window end',
      times: { resolvedAt: at(5_000), windowMs: 20_000 },
      now: 90_000,
      expected: { kind: 'verified', at: at(25_000), by: 'health_held' },
    },
    {
      name: 'window: resolved before the success, the hold starts at the success',
      times: { resolvedAt: at(-10_000), windowMs: 20_000 },
      now: 0,
      expected: { kind: 'hold', until: at(20_000) },
    },
    { name: 'window ending exactly at the deadline: held in time', times: { resolvedAt: at(40_000), windowMs: 20_000 }, now: 60_000, expected: { kind: 'verified', at: at(60_000), by: 'health_held' } },
    { name: 'window ending after the deadline: held until then…', times: { resolvedAt: at(50_000), windowMs: 20_000 }, now: 55_000, expected: { kind: 'hold', until: at(70_000) } },
    {
      name: '…and failed at the deadline',
      times: { resolvedAt: at(50_000), windowMs: 20_000 },
      now: 60_000,
      expected: {
        kind: 'failed',
        reason: `the incident resolved at ${at(50_000).toISOString()}, too late for the target's health to hold for the 20000 ms verify window before the verification deadline ${at(60_000).toISOString()}`,
      },
    },
  ];
  it.each(cases)('$name', ({ times, now, expected }) => {
    expect(judgeVerification({ ...base, ...times }, at(now))).toEqual(expected);
  });
});

describe('holds and relapses', () => {
  it('starts the hold at the later of the success and the resolution', () => {
    expect(holdStartOf(at(1_000), at(3_000))).toEqual(at(3_000));
    expect(holdStartOf(at(3_000), at(1_000))).toEqual(at(3_000));
  });

  const hold = holdOf(at(25_000), 20_000);
  it('derives the hold from its end and the window', () => {
    expect(hold).toEqual({ since: at(5_000), until: at(25_000) });
  });

  it.each([
    { name: 'began before the hold (a late report of something earlier)', signalAt: 4_999, relapse: false },
    { name: 'began as the hold started', signalAt: 5_000, relapse: true },
    { name: 'began inside the window', signalAt: 15_000, relapse: true },
    { name: 'began the last millisecond of the window', signalAt: 24_999, relapse: true },
    { name: 'began once the window had held', signalAt: 25_000, relapse: false },
  ])('a new incident that $name is a relapse: $relapse', ({ signalAt, relapse }) => {
    expect(isRelapse(hold, at(signalAt))).toBe(relapse);
  });

  it('names the relapse, when it began and how far into the window', () => {
    const reason = relapseReason(hold, 20_000, '0190a7d4-0000-7000-8000-000000000001', at(15_000));
    expect(reason).toBe(
      `the target relapsed: incident 0190a7d4-0000-7000-8000-000000000001 began on the same target at ${at(15_000).toISOString()}, 10000 ms into the 20000 ms verify window that started at ${at(5_000).toISOString()}, so its health did not hold`,
    );
  });
});
