import type { MetricSample } from '@autoheal/contracts';
import { MAX_SAMPLES_PER_BATCH, SampleBuffer } from './sample-buffer.js';

const sample = (n: number): MetricSample => ({ at: new Date(n * 1000).toISOString(), windowMs: 1000, requests: n });

describe('SampleBuffer', () => {
  it('hands out batches of at most 100, oldest first', () => {
    const buffer = new SampleBuffer(1000);
    for (let i = 0; i < 250; i++) buffer.push(sample(i));
    const sizes = [buffer.take(), buffer.take(), buffer.take(), buffer.take()].map((b) => b.length);
    expect(sizes).toEqual([MAX_SAMPLES_PER_BATCH, MAX_SAMPLES_PER_BATCH, 50, 0]);
  });

  it('drops the oldest past capacity and counts them', () => {
    const buffer = new SampleBuffer(3);
    for (let i = 0; i < 5; i++) buffer.push(sample(i));
    expect(buffer.dropped).toBe(2);
    expect(buffer.take().map((s) => s.requests)).toEqual([2, 3, 4]);
    for (let i = 5; i < 9; i++) buffer.push(sample(i));
    expect(buffer.take().map((s) => s.requests)).toEqual([6, 7, 8]);
    expect(buffer.dropped).toBe(3);
  });

  it('refuses a capacity of 0', () => expect(() => new SampleBuffer(0)).toThrow(RangeError));
});
