import { newEvent } from '@autoheal/contracts';
import { MAX_EVENTS_PER_REQUEST, splitBody, validateHealthEvents } from './ingest-validation.js';

const beat = (tenantId = 'acme', instance = 'api-1') =>
  newEvent('health.heartbeat', { tenantId, producer: 'p', data: { service: 'api', instance, intervalMs: 1000, sequence: 1 } });

describe('splitBody', () => {
  it.each([
    ['an array', [], '(root)'],
    ['null', null, '(root)'],
    ['an empty batch', { events: [] }, 'events'],
    ['events that are not an array', { events: {} }, 'events'],
    ['a batch over the limit', { events: Array.from({ length: MAX_EVENTS_PER_REQUEST + 1 }, () => beat()) }, 'events'],
    ['a batch with extra fields', { events: [beat()], extra: 1 }, '(root)'],
  ])('refuses %s', (_name, body, field) => {
    const split = splitBody(body);
    expect(split.ok ? null : split.violation.field).toBe(field);
  });

  it('treats an object without events as one envelope', () => {
    const split = splitBody(beat());
    expect(split.ok && split.items).toHaveLength(1);
  });
});

describe('validateHealthEvents', () => {
  it('keeps valid events with their subject and names each invalid one by index and field', () => {
    const wrongTenant = beat('globex');
    const split = splitBody({ events: [beat('acme', 'api-1'), wrongTenant, { ...beat(), version: 2 }, 'nonsense'] });
    if (!split.ok) throw new Error('split failed');
    const { valid, rejected } = validateHealthEvents('acme', split);
    expect(valid.map((v) => v.subject)).toEqual(['health.acme.api.api-1']);
    expect(rejected.map((r) => [r.violation.index, r.violation.field])).toEqual([
      [1, 'events.1.tenantId'],
      [2, 'events.2.version'],
      [3, 'events.3.(root)'],
    ]);
    expect(rejected[0].raw).toBe(wrongTenant);
  });

  it('names fields without a prefix for a single envelope', () => {
    const split = splitBody({ ...beat(), data: { service: 'api', instance: 'a.b', intervalMs: 1000, sequence: 0 } });
    if (!split.ok) throw new Error('split failed');
    expect(validateHealthEvents('acme', split).rejected[0].violation).toMatchObject({ index: 0, field: 'data.instance' });
  });
});
