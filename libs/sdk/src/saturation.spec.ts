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
      // Busy for ~60 ms once the monitor's timer runs, blocking the loop: both CPU and lag must show it.
      setTimeout(() => {
        const start = process.hrtime.bigint();
        while (process.hrtime.bigint() - start < 60_000_000n);
      }, 30);
      await new Promise((resolve) => setTimeout(resolve, 200));
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
