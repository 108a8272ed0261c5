import { LATENCY_BUCKETS_MS, MAX_LATENCIES_PER_WINDOW, percentile, RequestWindow } from './request-window.js';

describe('percentile (nearest rank)', () => {
  it.each([
    [[], 0.5, 0],
    [[7], 0.99, 7],
    [[1, 2, 3, 4], 0.5, 2],
    [[1, 2, 3, 4], 0.9, 4],
    [Array.from({ length: 100 }, (_, i) => i + 1), 0.99, 99],
    [Array.from({ length: 100 }, (_, i) => i + 1), 0.5, 50],
  ])('%j at %p → %p', (values, q, expected) => expect(percentile(values, q)).toBe(expected));
});

describe('RequestWindow', () => {
  it('counts requests and errors, computes percentiles and a cumulative histogram, then starts over', () => {
    const window = new RequestWindow();
    for (let i = 1; i <= 100; i++) window.record(i, i % 10 !== 0);
    const stats = window.drain();
    expect(stats).toMatchObject({ requests: 100, errors: 10, latencyMs: { p50: 50, p90: 90, p99: 99 } });
    const histogram = stats.latencyHistogram!;
    expect(histogram.map((b) => b.le)).toEqual([...LATENCY_BUCKETS_MS]);
    expect(histogram.find((b) => b.le === 10)?.count).toBe(10);
    expect(histogram.find((b) => b.le === 100)?.count).toBe(100);
    expect(histogram.at(-1)?.count).toBe(100);
    expect(window.drain()).toEqual({ requests: 0, errors: 0 });
  });

  it.each([NaN, -1, Infinity])('ignores the latency %p', (latency) => {
    const window = new RequestWindow();
    window.record(latency, false);
    expect(window.drain()).toEqual({ requests: 0, errors: 0 });
  });

  it('keeps a bounded sample of latencies on a busy window, still counting every request', () => {
    const window = new RequestWindow(() => 0.999999);
    for (let i = 0; i < MAX_LATENCIES_PER_WINDOW * 2; i++) window.record(i < MAX_LATENCIES_PER_WINDOW ? 1 : 1000, true);
    const stats = window.drain();
    expect(stats.requests).toBe(MAX_LATENCIES_PER_WINDOW * 2);
    expect(stats.latencyHistogram?.at(-1)?.count).toBe(MAX_LATENCIES_PER_WINDOW * 2);
  });
});
