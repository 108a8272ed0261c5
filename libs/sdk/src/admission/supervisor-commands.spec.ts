import { EventEmitter } from 'node:events';
import { AdmissionGate } from './admission-gate.js';
import { acceptSupervisorCommands, type SupervisorChannel } from './supervisor-commands.js';
import { supervisorThrottleAck, type SupervisorThrottleAck } from './throttle.schema.js';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const REMEDIATION = '0190a5e2-7c1b-7d3e-9f00-0123456789ab';
const OTHER_REMEDIATION = '0190a5e2-7c1b-7d3e-9f00-ba9876543210';
const iso = (ms: number) => new Date(ms).toISOString();

/** An IPC channel in memory: `deliver` is the supervisor writing, `sent` what the instance answered. */
class FakeChannel extends EventEmitter implements SupervisorChannel {
  readonly sent: unknown[] = [];
  send(message: unknown, _handle: undefined, _options: undefined, callback: (error: Error | null) => void): boolean {
    // What crosses a real channel is JSON.
    this.sent.push(JSON.parse(JSON.stringify(message)));
    callback(null);
    return true;
  }
  deliver(message: unknown): void {
    this.emit('message', message);
  }
}

function setup() {
  const clock = { now: T0 };
  const gate = new AdmissionGate({ nowMs: () => clock.now });
  const channel = new FakeChannel();
  const stop = acceptSupervisorCommands(gate, channel);
  return { gate, channel, clock, stop };
}

const throttleMessage = (overrides: Record<string, unknown> = {}) => ({
  type: 'autoheal.throttle',
  remediationId: REMEDIATION,
  limitPerSecond: 1,
  burst: 2,
  expiresAt: iso(T0 + 60_000),
  ...overrides,
});

/** Every ack must match the exported schema the agent parses with. */
function acks(channel: FakeChannel): SupervisorThrottleAck[] {
  return channel.sent.map((message) => supervisorThrottleAck.parse(message));
}

describe('acceptSupervisorCommands', () => {
  it('applies a throttle and acknowledges it with the expiry in force', () => {
    const { gate, channel } = setup();
    channel.deliver(throttleMessage());
    expect(acks(channel)).toEqual([{ type: 'autoheal.throttle.ack', remediationId: REMEDIATION, ok: true, appliedUntil: iso(T0 + 60_000) }]);
    expect(gate.current()).toMatchObject({ remediationId: REMEDIATION, limitPerSecond: 1, burst: 2 });
    expect([gate.admit(), gate.admit(), gate.admit()].map((d) => d.admitted)).toEqual([true, true, false]);
  });

  it('clears the throttle of the remediation named and acknowledges with appliedUntil null', () => {
    const { gate, channel } = setup();
    channel.deliver(throttleMessage());
    channel.deliver({ type: 'autoheal.throttle.clear', remediationId: OTHER_REMEDIATION });
    expect(gate.current()?.remediationId).toBe(REMEDIATION);
    channel.deliver({ type: 'autoheal.throttle.clear', remediationId: REMEDIATION });
    expect(gate.current()).toBeUndefined();
    expect(acks(channel).slice(1)).toEqual([
      { type: 'autoheal.throttle.ack', remediationId: OTHER_REMEDIATION, ok: true, appliedUntil: null },
      { type: 'autoheal.throttle.ack', remediationId: REMEDIATION, ok: true, appliedUntil: null },
    ]);
  });

  it.each<[string, unknown]>([
    ['a string', 'autoheal.throttle'],
    ['null', null],
    ['an array', [throttleMessage()]],
    ['another type', { type: 'app.config-reload', limitPerSecond: 1 }],
    ['its own ack type', { type: 'autoheal.throttle.ack', remediationId: REMEDIATION, ok: true, appliedUntil: null }],
    ['an unknown autoheal type', { type: 'autoheal.throttle.pause', remediationId: REMEDIATION }],
  ])('ignores %s: no answer, nothing changed', (_label, message) => {
    const { gate, channel } = setup();
    channel.deliver(message);
    expect(channel.sent).toEqual([]);
    expect(gate.current()).toBeUndefined();
  });

  // Hostile or broken commands: refused with the field named, and the throttle in force untouched.
  it.each<[string, Record<string, unknown>, RegExp, string | null]>([
    ['a negative limit', throttleMessage({ limitPerSecond: -1 }), /^limitPerSecond: /, REMEDIATION],
    ['a zero limit', throttleMessage({ limitPerSecond: 0 }), /^limitPerSecond: /, REMEDIATION],
    ['a limit as a string', throttleMessage({ limitPerSecond: '5' }), /^limitPerSecond: /, REMEDIATION],
    ['an infinite limit', throttleMessage({ limitPerSecond: Number.POSITIVE_INFINITY }), /^limitPerSecond: /, REMEDIATION],
    ['an absurd burst', throttleMessage({ burst: 1e12 }), /^burst: /, REMEDIATION],
    ['an expiry a year ahead', throttleMessage({ expiresAt: iso(T0 + 365 * 24 * 3600_000) }), /^expiresAt: must be at most 24 h ahead/, REMEDIATION],
    ['an expiry in the past', throttleMessage({ expiresAt: iso(T0 - 1_000) }), /^expiresAt: must be in the future/, REMEDIATION],
    ['an expiry as a number', throttleMessage({ expiresAt: T0 + 1_000 }), /^expiresAt: /, REMEDIATION],
    ['an extra field', throttleMessage({ exemptPaths: ['/admin'] }), /^exemptPaths: unknown field/, REMEDIATION],
    ['a __proto__ key', JSON.parse(`{"type":"autoheal.throttle","remediationId":"${REMEDIATION}","limitPerSecond":1,"expiresAt":"${iso(T0 + 1000)}","__proto__":{"admitted":true}}`) as Record<string, unknown>, /^__proto__: unknown field/, REMEDIATION],
    ['no remediation id', throttleMessage({ remediationId: undefined }), /^remediationId: /, null],
    ['a remediation id that is not a uuid', throttleMessage({ remediationId: '../../etc' }), /^remediationId: /, null],
    ['a clear with extra fields', { type: 'autoheal.throttle.clear', remediationId: REMEDIATION, all: true }, /^all: unknown field/, REMEDIATION],
  ])('refuses %s and changes nothing', (_label, message, error, remediationId) => {
    const { gate, channel } = setup();
    channel.deliver(throttleMessage({ remediationId: OTHER_REMEDIATION, limitPerSecond: 1, burst: 1 }));
    const before = gate.current();
    gate.admit();

    channel.deliver(message);

    const [, ack] = acks(channel);
    expect(ack).toMatchObject({ type: 'autoheal.throttle.ack', ok: false, remediationId });
    expect(ack.ok === false && ack.error).toMatch(error);
    expect(gate.current()).toEqual(before);
    expect(gate.admit().admitted).toBe(false); // the same, still empty bucket
  });

  it('stops answering once unsubscribed', () => {
    const { gate, channel, stop } = setup();
    stop();
    channel.deliver(throttleMessage());
    expect(channel.sent).toEqual([]);
    expect(gate.current()).toBeUndefined();
    expect(channel.listenerCount('message')).toBe(0);
  });

  it('applies commands on a channel that cannot answer', () => {
    const gate = new AdmissionGate({ nowMs: () => T0 });
    const channel = new EventEmitter();
    acceptSupervisorCommands(gate, channel);
    channel.emit('message', throttleMessage());
    expect(gate.current()?.remediationId).toBe(REMEDIATION);
  });
});
