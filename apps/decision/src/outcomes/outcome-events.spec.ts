import { newEvent } from '@autoheal/contracts';
import type { RemediationRow } from '../planning/remediations.repository.js';
import { describeAttempts, escalationForFailure } from './outcome-events.js';

const row = {
  remediationId: '00000000-0000-4000-8000-000000000001',
  incidentId: '00000000-0000-4000-8000-000000000002',
  tenantId: 'acme',
  service: 'api',
  instance: 'api-1',
  policyVersion: 'sha256:then',
  candidates: [{ action: 'replace', allowed: true, reason: 'allowed' }],
} as RemediationRow;

const failed = newEvent('remediation.failed', {
  tenantId: 'acme',
  producer: 'executor',
  correlationId: row.incidentId,
  data: { remediationId: row.remediationId, incidentId: row.incidentId, service: 'api', instance: 'api-1', action: 'replace', durationMs: 5, error: { code: 'unsupported_action', message: 'no driver' } },
});

describe('describeAttempts', () => {
  it.each([
    [[], ''],
    [[{ action: 'restart', error: { code: 'spawn_failed', message: 'exec format error' } }], 'restart failed (spawn_failed: exec format error)'],
    [
      [
        { action: 'restart', error: { code: 'spawn_failed', message: 'boom' } },
        { action: 'replace', error: null },
      ],
      'restart failed (spawn_failed: boom), then replace failed',
    ],
  ])('%j → %s', (attempts, text) => {
    expect(describeAttempts(attempts)).toBe(text);
  });
});

describe('escalationForFailure', () => {
  const now = new Date('2026-06-01T12:00:00Z');

  it('names the failed action and escalates, as before fallbacks existed', () => {
    const event = escalationForFailure(row, failed, now);
    expect(event).toMatchObject({ causationId: failed.id, correlationId: row.incidentId, data: { remediationId: row.remediationId, policyVersion: 'sha256:then', candidates: row.candidates } });
    expect(event.data.reason).toBe('replace failed (unsupported_action: no driver); escalating to a human');
  });

  it('names every attempt, oldest first, and why the policy allows no other candidate', () => {
    const candidates = [{ action: 'restart' as const, allowed: false, reason: 'restart was already tried for this incident' }];
    const event = escalationForFailure(row, failed, now, [{ action: 'restart', error: { code: 'spawn_failed', message: 'boom' } }], {
      reason: 'no candidate is allowed; escalating to a human',
      policyVersion: 'sha256:now',
      candidates,
    });
    expect(event.data.reason).toBe('restart failed (spawn_failed: boom), then replace failed (unsupported_action: no driver); no fallback: no candidate is allowed; escalating to a human');
    expect(event.data).toMatchObject({ policyVersion: 'sha256:now', candidates });
  });

  it('adds the escalation to a reason that held rather than escalated', () => {
    const event = escalationForFailure(row, failed, now, [], { reason: 'circuit breaker open; holding crashed on api/api-1', policyVersion: 'sha256:now', candidates: [] });
    expect(event.data.reason).toBe('replace failed (unsupported_action: no driver); no fallback: circuit breaker open; holding crashed on api/api-1; escalating to a human');
  });
});
