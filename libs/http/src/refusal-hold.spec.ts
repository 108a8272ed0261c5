import { RefusalHold } from './refusal-hold';

describe('RefusalHold', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('answers after the Retry-After, capped at the longest hold', () => {
    const hold = new RefusalHold({ maxHoldMs: 1_000, maxHeldPerKey: 4 });
    const short = jest.fn();
    const long = jest.fn();
    expect(hold.hold('acme', 300, short)).toEqual({ held: true });
    expect(hold.hold('acme', 30_000, long)).toEqual({ held: true });
    jest.advanceTimersByTime(299);
    expect(short).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(short).toHaveBeenCalledWith(true);
    jest.advanceTimersByTime(699);
    expect(long).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(long).toHaveBeenCalledTimes(1);
    expect(hold.heldFor('acme')).toBe(0);
  });

  it('answers at once past the per-key bound, and other keys are not affected', () => {
    const hold = new RefusalHold({ maxHoldMs: 1_000, maxHeldPerKey: 2 });
    const answers = Array.from({ length: 3 }, () => jest.fn());
    expect(answers.map((a) => hold.hold('mallory', 1_000, a).held)).toEqual([true, true, false]);
    expect(answers[2]).toHaveBeenCalledWith(false);
    expect(answers[0]).not.toHaveBeenCalled();
    expect(hold.heldFor('mallory')).toBe(2);
    expect(hold.hold('acme', 1_000, jest.fn())).toEqual({ held: true });
    jest.advanceTimersByTime(1_000);
    expect(answers[0]).toHaveBeenCalledTimes(1);
    expect(answers[1]).toHaveBeenCalledTimes(1);
    expect(hold.heldFor('mallory')).toBe(0);
  });

  it('answers at once when there is nothing to wait for', () => {
    const hold = new RefusalHold();
    const answer = jest.fn();
    expect(hold.hold('acme', 0, answer)).toEqual({ held: false });
    expect(answer).toHaveBeenCalledWith(false);
  });
});
