import { randomUUID } from 'node:crypto';
import { newEvent, type Envelope } from '@autoheal/contracts';
import { auditEntryForEvent, auditEntryForReadWindow, normalizeTimestamp } from './audit-entry';
import type { ReadWindow } from './read-records';

const incidentId = randomUUID();
const remediationId = randomUUID();
const target = { remediationId, incidentId, service: 'api', instance: 'api-1', action: 'restart' as const };

describe('auditEntryForEvent', () => {
  it.each<[string, Envelope, { actor: string; action: string; outcome: string }]>([
    [
      'incident opened by the detector',
      newEvent('incident.opened', {
        tenantId: 'acme',
        producer: 'detector',
        data: { incidentId, service: 'api', instance: 'api-1', kind: 'heartbeat_missed', severity: 'major', signalAt: '2025-01-01T00:00:00Z', detectedAt: '2025-01-01T00:00:01Z', detectionLatencyMs: 1, evidence: {} },
      }),
      { actor: 'detector', action: 'incident.open', outcome: 'info' },
    ],
    [
      'approval: the approver is the actor',
      newEvent('remediation.approved', { tenantId: 'acme', producer: 'decision', data: { ...target, approvedBy: 'alice@acme' } }),
      { actor: 'alice@acme', action: 'restart.approve', outcome: 'success' },
    ],
    [
      'rejection: refused, by the rejecter',
      newEvent('remediation.rejected', { tenantId: 'acme', producer: 'decision', data: { ...target, rejectedBy: 'bob', reason: 'no' } }),
      { actor: 'bob', action: 'restart.reject', outcome: 'refused' },
    ],
    [
      'failed restart',
      newEvent('remediation.failed', { tenantId: 'acme', producer: 'executor', data: { ...target, durationMs: 5, error: { code: 'agent_timeout', message: 'x' } } }),
      { actor: 'executor', action: 'restart.execute', outcome: 'failure' },
    ],
    [
      'deferral: the action waits for a slot, not refused yet',
      newEvent('remediation.deferred', {
        tenantId: 'acme',
        producer: 'decision',
        data: {
          incidentId,
          remediationId,
          service: 'api',
          instance: 'api-1',
          policyVersion: 'p',
          reason: 'deferred',
          candidates: [{ action: 'restart', allowed: false, reason: 'service_concurrency' }],
          retryAt: '2025-01-01T00:00:15Z',
          deferredSince: '2025-01-01T00:00:00Z',
          escalateAt: '2025-01-01T00:15:00Z',
          refusals: [{ action: 'restart', rule: 'service_concurrency', reason: 'service_concurrency' }],
        },
      }),
      { actor: 'decision', action: 'restart.defer', outcome: 'info' },
    ],
    [
      'compliance refusal',
      newEvent('compliance.action_refused', {
        tenantId: 'acme',
        producer: 'decision',
        data: { incidentId, service: 'api', instance: 'api-1', action: 'restart', rule: 'freeze', reason: 'freeze', policyVersion: 'p' },
      }),
      { actor: 'decision', action: 'restart.authorize', outcome: 'refused' },
    ],
    [
      'circuit breaker opened: automatic actions stop',
      newEvent('compliance.breaker_opened', { tenantId: 'acme', producer: 'decision', data: { reason: 'circuit_breaker: storm', openedAt: '2025-01-01T00:00:00.000Z', incidentId } }),
      { actor: 'decision', action: 'automatic_actions.stop', outcome: 'info' },
    ],
    [
      'circuit breaker resumed: the person who resumed is the actor',
      newEvent('compliance.breaker_resumed', {
        tenantId: 'acme',
        producer: 'decision',
        data: { resumedBy: 'alice@acme', reason: 'network fixed', resumedAt: '2025-01-01T00:10:00.000Z', openedReason: 'circuit_breaker: storm', openedAt: '2025-01-01T00:00:00.000Z' },
      }),
      { actor: 'alice@acme', action: 'automatic_actions.resume', outcome: 'success' },
    ],
  ])('%s', (_name, event, expected) => {
    const entry = auditEntryForEvent(event, 'remediation.acme.x');
    expect(entry).toMatchObject({ ...expected, tenantId: 'acme', eventId: event.id, eventType: event.type, source: 'remediation.acme.x', payload: event });
  });

  it('names the resource by the ids the event carries', () => {
    const event = newEvent('remediation.succeeded', { tenantId: 'acme', producer: 'executor', correlationId: incidentId, data: { ...target, durationMs: 3, details: {} } });
    expect(auditEntryForEvent(event, 's').resource).toEqual({ service: 'api', instance: 'api-1', incidentId, remediationId });
    expect(auditEntryForEvent(event, 's').correlationId).toBe(incidentId);
  });
});

describe('normalizeTimestamp', () => {
  it.each([
    ['2025-03-01T10:00:00Z', '2025-03-01T10:00:00.000Z'],
    ['2025-03-01T10:00:00.123456Z', '2025-03-01T10:00:00.123Z'],
    ['2025-03-01T12:00:00+02:00', '2025-03-01T10:00:00.000Z'],
  ])('%s → %s (what Postgres hands back to JS)', (input, expected) => {
    expect(normalizeTimestamp(input)).toBe(expected);
  });

  it('refuses garbage', () => {
    expect(() => normalizeTimestamp('soon')).toThrow(RangeError);
  });
});

describe('auditEntryForReadWindow', () => {
  const window: ReadWindow = {
    tenantId: 'acme',
    actor: 'ak_1',
    outcome: 'success',
    openedAtMs: Date.parse('2025-05-05T05:05:05.005Z'),
    lastAtMs: Date.parse('2025-05-05T05:05:45.000Z'),
    count: 12,
    kinds: { list: 10, verify: 2 },
    statuses: {},
    returnedItems: 70,
    sources: ['GET /v1/tenants/acme/audit from ::1'],
    queries: [{ limit: 10 }],
  };

  it('records who read, how often, between when and when, what and from where, in one row', () => {
    expect(auditEntryForReadWindow(window, 'e1', 60_000)).toEqual({
      tenantId: 'acme',
      eventId: 'e1',
      eventType: 'audit.read',
      occurredAt: '2025-05-05T05:05:05.005Z',
      actor: 'ak_1',
      action: 'audit_log.read',
      outcome: 'success',
      resource: { auditLog: 'acme' },
      source: 'GET /v1/tenants/acme/audit from ::1',
      correlationId: null,
      causationId: null,
      payload: {
        count: 12,
        firstAt: '2025-05-05T05:05:05.005Z',
        lastAt: '2025-05-05T05:05:45.000Z',
        windowSeconds: 60,
        kinds: { list: 10, verify: 2 },
        returnedItems: 70,
        queries: [{ limit: 10 }],
        sources: ['GET /v1/tenants/acme/audit from ::1'],
      },
    });
  });

  it('records refusals with their statuses', () => {
    const refused = { ...window, actor: 'anonymous', outcome: 'refused' as const, kinds: {}, statuses: { '401': 3000 }, count: 3000, queries: [] };
    expect(auditEntryForReadWindow(refused, 'e2', 60_000)).toMatchObject({
      actor: 'anonymous',
      outcome: 'refused',
      payload: { count: 3000, statuses: { '401': 3000 }, kinds: {} },
    });
    expect(auditEntryForReadWindow(refused, 'e2', 60_000).payload).not.toHaveProperty('returnedItems');
  });
});
