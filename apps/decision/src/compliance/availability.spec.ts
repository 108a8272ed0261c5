import { availabilityVerdict, measureAvailability, type DowntimeRecord, type ServiceAvailability } from './availability.js';

const MIN = 60_000;
/** A 1000-minute window: one minute is 0.1 % of it. */
const WINDOW = { start: 0, end: 1000 * MIN };
const FOUR = ['api-1', 'api-2', 'api-3', 'api-4'];

function down(instance: string, fromMin: number, toMin: number | null, extra: Partial<DowntimeRecord> = {}): DowntimeRecord {
  return { instance, kind: 'crashed', downSince: fromMin * MIN, downUntil: toMin === null ? null : toMin * MIN, suspectedCause: null, ...extra };
}

describe('measureAvailability', () => {
  it.each<[string, DowntimeRecord[], string[], { downtimeMin: number; availability: number; instances: number; incidents: number }]>([
    ['nothing down', [], FOUR, { downtimeMin: 0, availability: 1, instances: 4, incidents: 0 }],
    ['no inventory and no incident', [], [], { downtimeMin: 0, availability: 1, instances: 0, incidents: 0 }],
    ['the only instance down 2 minutes', [down('api-1', 10, 12)], ['api-1'], { downtimeMin: 2, availability: 0.998, instances: 1, incidents: 1 }],
    ['one of four instances down 8 minutes is 2 minutes of service downtime', [down('api-1', 10, 18)], FOUR, { downtimeMin: 2, availability: 0.998, instances: 4, incidents: 1 }],
    ['all four down 1 minute at once', FOUR.map((i) => down(i, 10, 11)), FOUR, { downtimeMin: 1, availability: 0.999, instances: 4, incidents: 4 }],
    ['two incidents on one instance at once count once', [down('api-1', 10, 20), down('api-1', 15, 25, { kind: 'error_rate' })], ['api-1'], { downtimeMin: 15, availability: 0.985, instances: 1, incidents: 2 }],
    ['back-to-back incidents on one instance add up', [down('api-1', 10, 20), down('api-1', 20, 25)], ['api-1'], { downtimeMin: 15, availability: 0.985, instances: 1, incidents: 2 }],
    ['an open incident counts until the end of the window', [down('api-1', 990, null)], ['api-1'], { downtimeMin: 10, availability: 0.99, instances: 1, incidents: 1 }],
    ['downtime before the window is cut off', [down('api-1', -50, 3)], ['api-1'], { downtimeMin: 3, availability: 0.997, instances: 1, incidents: 1 }],
    ['an incident that ended before the window counts for nothing', [down('api-1', -50, -10)], ['api-1'], { downtimeMin: 0, availability: 1, instances: 1, incidents: 0 }],
    ['a predicted incident is not downtime', [down('api-1', 10, 500, { kind: 'predicted' })], ['api-1'], { downtimeMin: 0, availability: 1, instances: 1, incidents: 0 }],
    ['a suspected detector or network fault is not downtime', [down('api-1', 10, 500, { suspectedCause: 'detector_or_network' })], ['api-1'], { downtimeMin: 0, availability: 1, instances: 1, incidents: 0 }],
    ['a service-level incident adds nothing to its members', [down('*', 10, 20), down('api-1', 10, 20), down('api-2', 10, 20)], FOUR, { downtimeMin: 5, availability: 0.995, instances: 4, incidents: 2 }],
    ['an instance missing from the inventory still counts, and among the instances', [down('api-9', 10, 20)], ['api-1'], { downtimeMin: 5, availability: 0.995, instances: 2, incidents: 1 }],
  ])('%s', (_name, records, inventory, expected) => {
    const measured = measureAvailability(records, inventory, WINDOW);
    expect(measured.downtimeMs).toBeCloseTo(expected.downtimeMin * MIN, 6);
    expect(measured.availability).toBeCloseTo(expected.availability, 12);
    expect(measured).toMatchObject({ windowMs: 1000 * MIN, instances: expected.instances, incidents: expected.incidents });
  });
});

describe('availabilityVerdict', () => {
  const measured = (downtimeMin: number): ServiceAvailability => ({ availability: 1 - downtimeMin / 1000, downtimeMs: downtimeMin * MIN, windowMs: 1000 * MIN, instances: 1, incidents: 1 });

  it.each<[string, number, number, boolean, string]>([
    ['within the budget', 0.5, 0.999, false, 'ok'],
    // 1 − 0.999 is not exactly 0.001 in floating point; exactly the allowed downtime still meets the target.
    ['exactly at the target', 1, 0.999, false, 'ok'],
    ['below the target', 1.01, 0.999, false, 'breach'],
    ['below the target, already reported', 5, 0.999, true, 'ok'],
    ['back at the target after a breach', 1, 0.999, true, 'recovered'],
    ['a stricter target breaches sooner', 0.6, 0.9995, false, 'breach'],
  ])('%s', (_name, downtimeMin, target, reported, expected) => {
    expect(availabilityVerdict(measured(downtimeMin), target, reported)).toBe(expected);
  });
});
