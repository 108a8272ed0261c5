import { randomUUID } from 'node:crypto';
import { ThrottleGate, throttleMessage, type ThrottleMessage } from './throttle.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

function limit(over: Partial<ThrottleMessage> = {}): ThrottleMessage {
  return { type: 'autoheal.throttle', remediationId: randomUUID(), limitPerSecond: 2, expiresAt: new Date(T0 + 10_000).toISOString(), ...over };
}

/** How many of `count` requests, all at `at`, the gate admits. */
function admitted(gate: ThrottleGate, at: number, count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) if (gate.admit(at)) n += 1;
  return n;
}

describe('ThrottleGate', () => {
  it('admits everything until a limit is applied', () => {
    expect(admitted(new ThrottleGate(), T0, 100)).toBe(100);
  });

  it('admits a burst, then the limit per second, until the limit expires', () => {
    const gate = new ThrottleGate();
    expect(gate.apply(limit(), T0)).toMatchObject({ ok: true, appliedUntil: new Date(T0 + 10_000).toISOString() });
    expect(admitted(gate, T0, 10)).toBe(2);
    expect(admitted(gate, T0 + 1_000, 10)).toBe(2);
    expect(admitted(gate, T0 + 1_500, 10)).toBe(1);
    expect(admitted(gate, T0 + 10_000, 10)).toBe(10);
  });

  it('takes an explicit burst', () => {
    const gate = new ThrottleGate();
    gate.apply(limit({ burst: 5 }), T0);
    expect(admitted(gate, T0, 10)).toBe(5);
  });

  it('refuses a limit that has already expired, and keeps admitting', () => {
    const gate = new ThrottleGate();
    expect(gate.apply(limit({ expiresAt: new Date(T0 - 1).toISOString() }), T0)).toMatchObject({ ok: false, error: expect.stringContaining('has passed') as string });
    expect(admitted(gate, T0, 10)).toBe(10);
  });

  it('the message schema names a bad field', () => {
    const parsed = throttleMessage.safeParse({ ...limit(), limitPerSecond: 0 });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0].path).toEqual(['limitPerSecond']);
  });
});
