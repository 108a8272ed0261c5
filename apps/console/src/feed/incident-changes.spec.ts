import { incidentChanges, snapshotOf, type FeedIncident } from './incident-changes.js';

const incident = (id: string, openedAt: string, over: Partial<FeedIncident> = {}): FeedIncident => ({
  tenantId: 'acme',
  incidentId: id,
  service: 'api',
  instance: 'api-1',
  kind: 'crashed',
  severity: 'critical',
  status: 'open',
  openedAt,
  resolvedAt: null,
  resolveReason: null,
  ...over,
});

describe('the live feed’s changes', () => {
  it('reports nothing for what the snapshot already showed, newest first in the snapshot', () => {
    const known = new Map<string, string>();
    const a = incident('a', '2026-01-01T00:00:00Z');
    const b = incident('b', '2026-01-01T00:01:00Z');
    expect(snapshotOf(known, [a, b]).map((i) => i.incidentId)).toEqual(['b', 'a']);
    expect(incidentChanges(known, [b, a])).toEqual([]);
  });

  it('reports a new incident as opened and a status change as updated, oldest first, once each', () => {
    const known = new Map<string, string>();
    const a = incident('a', '2026-01-01T00:00:00Z');
    snapshotOf(known, [a]);
    const c = incident('c', '2026-01-01T00:03:00Z');
    const b = incident('b', '2026-01-01T00:02:00Z');
    const aResolved = { ...a, status: 'resolved', resolvedAt: '2026-01-01T00:04:00Z', resolveReason: 'recovered' };
    expect(incidentChanges(known, [c, b, aResolved])).toEqual([
      { change: 'updated', incident: aResolved },
      { change: 'opened', incident: b },
      { change: 'opened', incident: c },
    ]);
    expect(incidentChanges(known, [c, b, aResolved])).toEqual([]);
  });

  it('keeps tenants apart: the same incident id in two tenants is two incidents', () => {
    const known = new Map<string, string>();
    snapshotOf(known, [incident('x', '2026-01-01T00:00:00Z')]);
    const other = incident('x', '2026-01-01T00:00:00Z', { tenantId: 'globex' });
    expect(incidentChanges(known, [other])).toEqual([{ change: 'opened', incident: other }]);
  });
});
