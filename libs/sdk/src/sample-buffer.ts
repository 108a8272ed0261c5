import type { MetricSample } from '@autoheal/contracts';

/** Samples per `health.metrics` event (the contract's maximum). */
export const MAX_SAMPLES_PER_BATCH = 100;

/**
 * Samples waiting to be sent, oldest first. While NATS is unreachable they accumulate up to
 * `capacity`; past it the oldest are dropped (and counted), so an outage costs bounded memory
 * and what is sent after it is the most recent history.
 */
export class SampleBuffer {
  private samples: MetricSample[] = [];
  private droppedCount = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.samples.length;
  }

  get dropped(): number {
    return this.droppedCount;
  }

  push(sample: MetricSample): void {
    this.samples.push(sample);
    const excess = this.samples.length - this.capacity;
    if (excess > 0) {
      this.samples.splice(0, excess);
      this.droppedCount += excess;
    }
  }

  /** Removes and returns the oldest batch (at most MAX_SAMPLES_PER_BATCH). */
  take(): MetricSample[] {
    return this.samples.splice(0, MAX_SAMPLES_PER_BATCH);
  }
}
