import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArrivalRate, busyMsFor, DEFAULT_OVERLOAD_SETTINGS, holdEventLoop, loadedRouteOf, queueDelayMs, type OverloadSettings } from './overload.js';

const settings: OverloadSettings = { capacityPerSecond: 20, queueDelayMs: 1500, busyMs: 250 };

describe('loadedRouteOf', () => {
  it.each([
    ['/v1/orders', 'orders'],
    ['/v1/orders?limit=5', 'orders'],
    ['/v1/orders/acme-health-ord-1', 'orders'],
    ['/v1/reports', 'reports'],
    ['/v1/reports?month=12', 'reports'],
    ['/healthz', null],
    ['/v1/ordersx', null],
    ['/admin', null],
  ])('%s → %s', (url, expected) => {
    expect(loadedRouteOf(url)).toBe(expected);
  });
});

describe('ArrivalRate', () => {
  it('counts the arrivals of the last second, the one recorded included', () => {
    const rate = new ArrivalRate();
    expect(rate.record(0)).toBe(1);
    expect(rate.record(400)).toBe(2);
    expect(rate.record(999)).toBe(3);
    // At 1000 the arrival at 0 is a second old: out.
    expect(rate.record(1000)).toBe(3);
    expect(rate.count(1400)).toBe(2);
    expect(rate.count(5000)).toBe(0);
  });

  it('a steady stream counts as its rate, whatever its phase', () => {
    const rate = new ArrivalRate();
    const counts: number[] = [];
    // 25 a second (every 40 ms) for 3 s.
    for (let i = 0; i < 75; i++) counts.push(rate.record(i * 40));
    expect(Math.max(...counts.slice(25))).toBe(25);
    expect(Math.min(...counts.slice(25))).toBe(25);
  });
});

describe('overload', () => {
  it.each([
    ['within capacity: on time', 20, 0, 0],
    ['one beyond capacity: late orders, a busy loop', 21, 1500, 250],
    ['far beyond', 200, 1500, 250],
  ])('%s', (_name, arrivals, delay, busy) => {
    expect(queueDelayMs(arrivals, settings)).toBe(delay);
    expect(busyMsFor(arrivals, settings)).toBe(busy);
  });

  it('capacity 0 is no limit: nothing ever falls behind', () => {
    const unlimited = { ...settings, capacityPerSecond: 0 };
    expect(queueDelayMs(1_000_000, unlimited)).toBe(0);
    expect(busyMsFor(1_000_000, unlimited)).toBe(0);
  });

  it('holdEventLoop returns once its clock has moved on by the time asked', () => {
    let t = 0;
    holdEventLoop(300, () => (t += 7));
    expect(t).toBeGreaterThanOrEqual(300);
  });
});

describe('sized against the demo detector rules', () => {
  const rules = JSON.parse(readFileSync(join(__dirname, '../../../../deploy/demo/detector-rules.json'), 'utf8')) as {
    defaults: { latency: { open: number } };
  };

  it('a late order is above the latency threshold, so the static rule (not the anomaly) opens the incident', () => {
    expect(DEFAULT_OVERLOAD_SETTINGS.queueDelayMs).toBeGreaterThan(rules.defaults.latency.open);
  });

  it('a held loop is above the default event-loop lag threshold (200 ms), and two fit in a second with room to spare', () => {
    expect(DEFAULT_OVERLOAD_SETTINGS.busyMs).toBeGreaterThan(200);
    expect(DEFAULT_OVERLOAD_SETTINGS.busyMs * 2).toBeLessThan(1000);
  });
});
