import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { MetricSample } from '@autoheal/contracts';

export type Saturation = Pick<MetricSample, 'cpu' | 'memoryBytes' | 'memoryLimitBytes' | 'eventLoopLagMs'>;

/** CPU time used over wall time elapsed, in cores (1 = one core busy), within the contract's 0..64. */
export function cpuRatio(cpuMicros: number, wallMs: number): number {
  if (wallMs <= 0) return 0;
  return Math.min(64, Math.max(0, Math.round((cpuMicros / 1000 / wallMs) * 1000) / 1000));
}

/**
 * Saturation of the host process, read once per window: CPU (process.cpuUsage delta), memory
 * (RSS) and event-loop lag (p99 of perf_hooks' delay histogram over the window).
 */
export class ProcessSaturation {
  private lastCpu = process.cpuUsage();
  private lastAtMs: number;
  private readonly loop: IntervalHistogram;

  constructor(
    private readonly nowMs: () => number,
    private readonly memoryLimitBytes?: number,
  ) {
    this.lastAtMs = nowMs();
    this.loop = monitorEventLoopDelay({ resolution: 10 });
    this.loop.enable();
  }

  read(): Saturation {
    const cpu = process.cpuUsage(this.lastCpu);
    const now = this.nowMs();
    const sample: Saturation = {
      cpu: cpuRatio(cpu.user + cpu.system, now - this.lastAtMs),
      memoryBytes: process.memoryUsage.rss(),
      ...(this.memoryLimitBytes === undefined ? {} : { memoryLimitBytes: this.memoryLimitBytes }),
      // The histogram is in nanoseconds; it has no value until the loop has ticked once.
      eventLoopLagMs: this.loop.count > 0 ? Math.round(this.loop.percentile(99) / 1e4) / 100 : 0,
    };
    this.lastCpu = process.cpuUsage();
    this.lastAtMs = now;
    this.loop.reset();
    return sample;
  }

  close(): void {
    this.loop.disable();
  }
}
