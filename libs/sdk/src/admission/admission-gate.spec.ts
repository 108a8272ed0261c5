import { AdmissionGate, type AdmissionDecision, type ThrottleChange, type ThrottleInput } from './admission-gate.js';
import { InvalidThrottleError } from './admission.errors.js';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const REMEDIATION = '0190a5e2-7c1b-7d3e-9f00-0123456789ab';
const OTHER_REMEDIATION = '0190a5e2-7c1b-7d3e-9f00-ba9876543210';
const iso = (ms: number) => new Date(ms).toISOString();

/** A gate on a clock the test moves by hand. */
function gateAt(start = T0) {
  const clock = { now: start };
  const changes: ThrottleChange[] = [];
  const gate = new AdmissionGate({ nowMs: () => clock.now });
  gate.onChange((change) => changes.push(change));
  return { gate, clock, changes };
}

function throttle(overrides: Partial<ThrottleInput> = {}): ThrottleInput {
  return { remediationId: REMEDIATION, limitPerSecond: 2, burst: 4, expiresAt: iso(T0 + 60_000), ...overrides };
}

/** Admits `n` requests at the gate's current time; how many were admitted. */
function admitMany(gate: AdmissionGate, n: number): { admitted: number; shed: AdmissionDecision[] } {
  const shed: AdmissionDecision[] = [];
  let admitted = 0;
  for (let i = 0; i < n; i++) {
    const decision = gate.admit();
    if (decision.admitted) admitted++;
    else shed.push(decision);
  }
  return { admitted, shed };
}

describe('AdmissionGate without a throttle', () => {
  it('admits everything and counts it', () => {
    const { gate } = gateAt();
    expect(admitMany(gate, 1000).admitted).toBe(1000);
    expect(gate.stats).toEqual({ admitted: 1000, shed: 0, throttle: undefined });
    expect(gate.current()).toBeUndefined();
  });
});

describe('AdmissionGate token bucket', () => {
  it('admits a full bucket at once, then sheds until tokens come back at limitPerSecond', () => {
    const { gate, clock } = gateAt();
    gate.setThrottle(throttle({ limitPerSecond: 2, burst: 4 }));

    const first = admitMany(gate, 10);
    expect(first.admitted).toBe(4);
    expect(first.shed).toHaveLength(6);
    expect(first.shed[0]).toEqual({ admitted: false, retryAfterSeconds: 1, remediationId: REMEDIATION });

    clock.now += 500; // one token at 2/s
    expect(admitMany(gate, 3).admitted).toBe(1);
    clock.now += 10_000; // refills to the burst, not beyond
    expect(admitMany(gate, 10).admitted).toBe(4);

    expect(gate.stats).toMatchObject({ admitted: 9, shed: 14 });
    expect(gate.current()).toMatchObject({ remediationId: REMEDIATION, limitPerSecond: 2, burst: 4, shed: 14 });
  });

  it('keeps the sustained rate at limitPerSecond over many small steps', () => {
    const { gate, clock } = gateAt();
    gate.setThrottle(throttle({ limitPerSecond: 10, burst: 1 }));
    let admitted = 0;
    // 100 requests/s (one every 10 ms) at 0, 10, … 49 990 ms: the initial token at 0, then one
    // every 100 ms (100, 200, … 49 900). Exact: ten refills of a tenth make a whole token.
    for (let i = 0; i < 5000; i++) {
      if (gate.admit().admitted) admitted++;
      clock.now += 10;
    }
    expect(admitted).toBe(500);
  });

  it.each([
    [{ limitPerSecond: 5 }, 5],
    [{ limitPerSecond: 2.5 }, 3],
    [{ limitPerSecond: 0.2 }, 1],
  ])('defaults burst to one second of the limit, at least 1 (%j → %i)', (settings, burst) => {
    const { gate } = gateAt();
    expect(gate.setThrottle(throttle({ ...settings, burst: undefined })).burst).toBe(burst);
    expect(admitMany(gate, 20).admitted).toBe(burst);
  });

  it.each([
    // limit, tokens spent so far → Retry-After
    [{ limitPerSecond: 0.1, burst: 1 }, 10],
    [{ limitPerSecond: 0.25, burst: 1 }, 4],
    [{ limitPerSecond: 3, burst: 1 }, 1],
    [{ limitPerSecond: 1000, burst: 1 }, 1],
  ])('answers Retry-After with the whole seconds until the next token (%j → %i s)', (settings, retryAfter) => {
    const { gate } = gateAt();
    gate.setThrottle(throttle(settings));
    admitMany(gate, 1);
    expect(gate.admit()).toMatchObject({ admitted: false, retryAfterSeconds: retryAfter });
  });

  it('never asks to retry after the throttle will have expired', () => {
    const { gate } = gateAt();
    gate.setThrottle(throttle({ limitPerSecond: 0.01, burst: 1, expiresAt: iso(T0 + 3_500) }));
    admitMany(gate, 1);
    expect(gate.admit()).toMatchObject({ admitted: false, retryAfterSeconds: 4 });
  });

  it('adds no tokens when the clock steps back, and takes none away', () => {
    const { gate, clock } = gateAt();
    gate.setThrottle(throttle({ limitPerSecond: 1, burst: 2 }));
    admitMany(gate, 2);
    clock.now -= 5_000;
    expect(gate.admit().admitted).toBe(false);
    clock.now += 5_000 + 1_000;
    expect(gate.admit().admitted).toBe(true);
  });

  it('takes the time of admit(now) over the clock', () => {
    const { gate } = gateAt();
    gate.setThrottle(throttle({ limitPerSecond: 1, burst: 1 }));
    expect(gate.admit(T0).admitted).toBe(true);
    expect(gate.admit(T0 + 10).admitted).toBe(false);
    expect(gate.admit(T0 + 1_010).admitted).toBe(true);
    expect(gate.admit(T0 + 60_000).admitted).toBe(true); // expired
    expect(gate.current()).toBeUndefined();
  });
});

describe('AdmissionGate expiry and changes', () => {
  it('admits everything again once expiresAt has passed, drops the throttle and says so', () => {
    const { gate, clock, changes } = gateAt();
    gate.setThrottle(throttle({ limitPerSecond: 1, burst: 1, expiresAt: iso(T0 + 30_000) }));
    admitMany(gate, 5);

    clock.now = T0 + 29_999;
    expect(gate.current()).toBeDefined();
    clock.now = T0 + 30_000;
    expect(admitMany(gate, 100).admitted).toBe(100);
    expect(gate.current()).toBeUndefined();
    expect(changes.map((c) => c.kind)).toEqual(['set', 'expired']);
    expect(changes[1].throttle).toMatchObject({ remediationId: REMEDIATION, expiresAt: iso(T0 + 30_000), shed: 4 });
  });

  it('clears only the remediation named, and lifts any with no name', () => {
    const { gate, changes } = gateAt();
    gate.setThrottle(throttle());
    expect(gate.clearThrottle(OTHER_REMEDIATION)).toBe(false);
    expect(gate.current()?.remediationId).toBe(REMEDIATION);
    expect(gate.clearThrottle(REMEDIATION)).toBe(true);
    expect(gate.current()).toBeUndefined();
    expect(gate.clearThrottle(REMEDIATION)).toBe(false);

    gate.setThrottle(throttle({ remediationId: OTHER_REMEDIATION }));
    expect(gate.clearThrottle()).toBe(true);
    expect(changes.map((c) => `${c.kind} ${c.throttle.remediationId}`)).toEqual([
      `set ${REMEDIATION}`,
      `cleared ${REMEDIATION}`,
      `set ${OTHER_REMEDIATION}`,
      `cleared ${OTHER_REMEDIATION}`,
    ]);
  });

  it('a new remediation replaces the throttle with a full bucket; the same one sent again keeps its tokens', () => {
    const { gate, clock } = gateAt();
    gate.setThrottle(throttle({ limitPerSecond: 1, burst: 3 }));
    admitMany(gate, 3);

    gate.setThrottle(throttle({ limitPerSecond: 1, burst: 3, expiresAt: iso(T0 + 120_000) }));
    expect(gate.admit().admitted).toBe(false);
    expect(gate.current()).toMatchObject({ expiresAt: iso(T0 + 120_000), setAt: iso(T0), shed: 1 });

    clock.now += 1;
    gate.setThrottle(throttle({ remediationId: OTHER_REMEDIATION, limitPerSecond: 1, burst: 3 }));
    expect(admitMany(gate, 5).admitted).toBe(3);
    expect(gate.current()).toMatchObject({ remediationId: OTHER_REMEDIATION, setAt: iso(T0 + 1), shed: 2 });
  });

  it('takes a Date for expiresAt', () => {
    const { gate } = gateAt();
    expect(gate.setThrottle(throttle({ expiresAt: new Date(T0 + 5_000) })).expiresAt).toBe(iso(T0 + 5_000));
  });

  it('keeps admitting when a listener throws, and reports the error', () => {
    const errors: unknown[] = [];
    const clock = { now: T0 };
    const gate = new AdmissionGate({ nowMs: () => clock.now, onListenerError: (error) => errors.push(error) });
    gate.onChange(() => {
      throw new Error('listener broke');
    });
    gate.setThrottle(throttle({ expiresAt: iso(T0 + 1_000) }));
    clock.now += 1_000;
    expect(gate.admit().admitted).toBe(true);
    expect(errors).toHaveLength(2);
  });

  it('stops calling a listener once unsubscribed', () => {
    const { gate } = gateAt();
    const seen: string[] = [];
    const unsubscribe = gate.onChange((change) => seen.push(change.kind));
    gate.setThrottle(throttle());
    unsubscribe();
    gate.clearThrottle();
    expect(seen).toEqual(['set']);
  });
});

describe('AdmissionGate refuses an invalid throttle, naming the field, and changes nothing', () => {
  it.each<[string, Partial<ThrottleInput> | Record<string, unknown>]>([
    ['limitPerSecond', { limitPerSecond: 0 }],
    ['limitPerSecond', { limitPerSecond: -5 }],
    ['limitPerSecond', { limitPerSecond: Number.NaN }],
    ['limitPerSecond', { limitPerSecond: Number.POSITIVE_INFINITY }],
    ['limitPerSecond', { limitPerSecond: 2_000_000 }],
    ['limitPerSecond', { limitPerSecond: '10' }],
    ['burst', { burst: 0 }],
    ['burst', { burst: 1.5 }],
    ['burst', { burst: Number.POSITIVE_INFINITY }],
    ['expiresAt', { expiresAt: iso(T0) }],
    ['expiresAt', { expiresAt: iso(T0 - 1) }],
    ['expiresAt', { expiresAt: iso(T0 + 24 * 3600_000 + 1) }],
    ['expiresAt', { expiresAt: 'tomorrow' }],
    ['expiresAt', { expiresAt: new Date(Number.NaN) }],
    ['expiresAt', { expiresAt: '2026-03-01T13:00:00+01:00' }],
    ['remediationId', { remediationId: 'not-a-uuid' }],
    ['limitPerSec', { limitPerSec: 5 }],
  ])('%s (%p)', (field, override) => {
    const { gate, changes } = gateAt();
    const active = gate.setThrottle(throttle({ remediationId: OTHER_REMEDIATION, limitPerSecond: 1, burst: 1 }));
    admitMany(gate, 1);

    let thrown: unknown;
    try {
      gate.setThrottle({ ...throttle(), ...override });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidThrottleError);
    expect((thrown as InvalidThrottleError).field).toBe(field);
    expect((thrown as InvalidThrottleError).message).toMatch(new RegExp(`^${field}: `));

    expect(gate.current()).toEqual({ ...active, shed: 0 });
    expect(gate.admit().admitted).toBe(false); // the earlier bucket, still empty
    expect(changes.map((c) => c.kind)).toEqual(['set']);
  });

  it('accepts exactly 24 h ahead', () => {
    const { gate } = gateAt();
    expect(gate.setThrottle(throttle({ expiresAt: iso(T0 + 24 * 3600_000) })).expiresAt).toBe(iso(T0 + 24 * 3600_000));
  });
});
