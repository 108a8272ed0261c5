import { REMEDIATION_STATUSES, REMEDIATION_STEP_TYPES, remediationStatusOf, stepTypeOf, timelineOf, type TimelineRow } from './incident-views';

const row = (seq: number, eventType: string, occurredAt: string): TimelineRow => ({
  seq,
  eventId: `e${seq}`,
  eventType,
  occurredAt,
  recordedAt: occurredAt,
  actor: 'x',
  action: 'a',
  outcome: 'info',
  remediationId: null,
});

describe('remediation statuses', () => {
  it('maps every status to one step type and back', () => {
    for (const status of REMEDIATION_STATUSES) expect(remediationStatusOf(stepTypeOf(status))).toBe(status);
    expect(new Set(REMEDIATION_STEP_TYPES.map(remediationStatusOf)).size).toBe(REMEDIATION_STEP_TYPES.length);
  });

  it.each([
    ['remediation.succeeded', 'executed'],
    ['remediation.verification_failed', 'verification_failed'],
    ['remediation.escalated', 'escalated'],
    ['remediation.escalation_delivered', null],
    ['incident.opened', null],
    ['toString', null],
  ])('%s → %s', (type, status) => {
    expect(remediationStatusOf(type)).toBe(status);
  });
});

describe('timelineOf', () => {
  it('orders by occurredAt then seq, with the time since the previous entry and since the opening', () => {
    const t = timelineOf(
      [
        row(3, 'remediation.planned', '2026-01-01T00:00:02.000Z'),
        row(1, 'incident.opened', '2026-01-01T00:00:01.000Z'),
        // recorded later but happened earlier (another stream): placed by when it happened
        row(9, 'remediation.started', '2026-01-01T00:00:02.500Z'),
        row(5, 'remediation.succeeded', '2026-01-01T00:00:04.000Z'),
        row(6, 'incident.resolved', '2026-01-01T00:00:04.000Z'),
        row(7, 'remediation.verified', '2026-01-01T00:00:05.250Z'),
      ],
      '2026-01-01T00:00:00.000Z',
    );
    expect(t.entries.map((e) => [e.seq, e.sincePreviousMs, e.sinceOpenedMs])).toEqual([
      [1, 0, 0],
      [3, 1000, 1000],
      [9, 500, 1500],
      [5, 1500, 3000],
      [6, 0, 3000],
      [7, 1250, 4250],
    ]);
    expect(t).toMatchObject({
      openedAt: '2026-01-01T00:00:01.000Z',
      signalAt: '2026-01-01T00:00:00.000Z',
      resolvedAt: '2026-01-01T00:00:04.000Z',
      verifiedAt: '2026-01-01T00:00:05.250Z',
    });
  });

  it('runs from the first event when the opening is not in the trail', () => {
    const t = timelineOf([row(4, 'remediation.started', '2026-01-01T00:00:03.000Z'), row(2, 'remediation.planned', '2026-01-01T00:00:01.000Z')], null);
    expect(t.openedAt).toBe('2026-01-01T00:00:01.000Z');
    expect(t.entries.map((e) => e.sinceOpenedMs)).toEqual([0, 2000]);
    expect(t).toMatchObject({ resolvedAt: null, verifiedAt: null, signalAt: null });
  });
});
