import { newEvent } from '@autoheal/contracts';
import { alertSeverity, alertSignal, exitedSignal, livenessFingerprint, missedHeartbeatSignal } from './health-signals.js';

const alert = (over: Partial<{ status: 'firing' | 'resolved'; severity: string; endsAt: string }>) =>
  newEvent('health.alert', {
    tenantId: 'acme',
    producer: 'alertmanager',
    occurredAt: new Date('2026-01-01T00:00:10Z'),
    data: {
      service: 'api',
      instance: 'api-1',
      alertname: 'HighErrorRate',
      status: 'firing',
      fingerprint: 'abc123',
      startsAt: '2026-01-01T00:00:05Z',
      labels: { team: 'core' },
      annotations: {},
      ...over,
    },
  });

describe('health signals', () => {
  it.each([
    ['critical', 'critical'],
    ['Warning', 'minor'],
    ['info', 'minor'],
    [undefined, 'major'],
    ['p2', 'major'],
  ])('alert severity %s → %s', (given, expected) => {
    expect(alertSeverity(given)).toBe(expected);
  });

  it('a firing alert is keyed by its fingerprint and dated by startsAt', () => {
    const s = alertSignal(alert({}), Date.parse('2026-01-01T00:01:00Z'), false);
    expect(s).toMatchObject({ kind: 'alert', ruleKey: 'abc123', firing: true, signalAt: Date.parse('2026-01-01T00:00:05Z'), instance: 'api-1' });
  });

  it('a resolved alert is a resolved level dated by endsAt', () => {
    const s = alertSignal(alert({ status: 'resolved', endsAt: '2026-01-01T00:00:30Z' }), Date.parse('2026-01-01T00:01:00Z'), false);
    expect(s).toMatchObject({ firing: false, ruleKey: 'abc123', signalAt: Date.parse('2026-01-01T00:00:30Z') });
  });

  it('a producer clock ahead of ours counts as now', () => {
    expect(alertSignal(alert({}), Date.parse('2026-01-01T00:00:00Z'), false).signalAt).toBe(Date.parse('2026-01-01T00:00:00Z'));
  });

  it('an exit is a crashed level that fires at once', () => {
    const event = newEvent('health.exited', { tenantId: 'acme', producer: 'agent', data: { service: 'api', instance: 'api-1', exitCode: 137, signal: 'SIGKILL', observedBy: 'agent' } });
    expect(exitedSignal(event, 42, true)).toMatchObject({ kind: 'crashed', ruleKey: 'crashed', firing: true, signalAt: 42, suppressed: true, evidence: { exitCode: 137, signal: 'SIGKILL' } });
  });

  it('a missed heartbeat fires at its deadline', () => {
    const s = missedHeartbeatSignal({ target: { tenantId: 'acme', service: 'api', instance: 'api-1', intervalMs: 100, lastSeenAt: 1_000, state: 'missing' }, deadlineAt: 1_300, missedIntervals: 3 }, false);
    expect(s).toMatchObject({ kind: 'heartbeat_missed', firing: true, signalAt: 1_300, severity: 'major' });
    expect(livenessFingerprint({ tenantId: 'acme', service: 'api', instance: 'api-1' }, 'heartbeat_missed')).toBe('acme.api.api-1.heartbeat_missed.heartbeat_missed');
  });
});
