import { cpuRatio, ProcessSaturation } from './saturation.js';

describe('cpuRatio', () => {
  it.each([
    [500_000, 1000, 0.5],
    [2_000_000, 1000, 2],
    [0, 1000, 0],
    [1000, 0, 0],
    [1e12, 1, 64],
  ])('%p µs over %p ms → %p cores', (micros, wallMs, expected) => expect(cpuRatio(micros, wallMs)).toBe(expected));
});

describe('ProcessSaturation', () => {
  it('reports CPU burnt in the window, RSS, the limit and event-loop lag', async () => {
    let now = 0;
    const saturation = new ProcessSaturation(() => now, 512 * 1024 * 1024);
    try {
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      // Let the monitor's timer (10 ms resolution) tick once, then block the loop for ~60 ms: both
      // CPU and lag must show it. The timers awaited after the busy loop fall due after the
      // monitor's, which was due during it, so the monitor records the delay before they run —
      // however late a loaded machine schedules this process (a fixed wait raced the monitor).
      await sleep(30);
      const start = process.hrtime.bigint();
      while (process.hrtime.bigint() - start < 60_000_000n);
      await sleep(30);
      await sleep(30);
      now = 200;
      const sample = saturation.read();
      // Loose: CPU accounting in containers and sandboxes can lag well behind a busy loop.
      expect(sample.cpu).toBeGreaterThan(0);
      expect(sample.memoryBytes).toBeGreaterThan(1024 * 1024);
      expect(sample.memoryLimitBytes).toBe(512 * 1024 * 1024);
      expect(sample.eventLoopLagMs).toBeGreaterThan(30);
    } finally {
      saturation.close();
    }
  });
});
