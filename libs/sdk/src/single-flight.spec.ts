import { singleFlight } from './single-flight.js';

describe('singleFlight', () => {
  it('lets calls made during a run share it', async () => {
    let runs = 0;
    let finish!: () => void;
    const run = singleFlight(() => {
      runs += 1;
      return new Promise<void>((resolve) => (finish = resolve));
    });
    const first = run();
    const second = run();
    expect(second).toBe(first);
    finish();
    await first;
    expect(runs).toBe(1);
  });

  it('starts a fresh run after one that had nothing to do', async () => {
    // A flush while disconnected returns without awaiting; the flush after reconnecting must still run.
    let runs = 0;
    const run = singleFlight(async () => {
      runs += 1;
    });
    await run();
    await run();
    expect(runs).toBe(2);
  });

  it('starts a fresh run after one that failed', async () => {
    let runs = 0;
    const run = singleFlight(() => {
      runs += 1;
      return Promise.reject(new Error('boom'));
    });
    await expect(run()).rejects.toThrow('boom');
    await expect(run()).rejects.toThrow('boom');
    expect(runs).toBe(2);
  });
});
