import { pauseAfterBatch, VERIFY_UNPACED_ROWS } from './audit-read.service.js';

describe('pauseAfterBatch: a long verification gives way to everything else', () => {
  it('never pauses a verification within its first VERIFY_UNPACED_ROWS rows (an incremental one, a young chain)', () => {
    expect(pauseAfterBatch(6, 40, 0.25)).toBe(0);
    expect(pauseAfterBatch(VERIFY_UNPACED_ROWS, 400, 0.25)).toBe(0);
  });

  it('past them, waits so that the verification is busy only `pace` of the time', () => {
    // Busy 50 ms, then 150 ms idle: 50 / (50 + 150) = 0.25.
    expect(pauseAfterBatch(VERIFY_UNPACED_ROWS + 1_000, 50, 0.25)).toBeCloseTo(150);
    expect(pauseAfterBatch(VERIFY_UNPACED_ROWS + 1_000, 50, 0.5)).toBeCloseTo(50);
  });

  it('waits longer after a slower batch (a loaded machine)', () => {
    expect(pauseAfterBatch(VERIFY_UNPACED_ROWS + 1, 200, 0.25)).toBeGreaterThan(pauseAfterBatch(VERIFY_UNPACED_ROWS + 1, 50, 0.25));
  });

  it('never pauses with pace 1', () => {
    expect(pauseAfterBatch(10 * VERIFY_UNPACED_ROWS, 50, 1)).toBe(0);
  });
});
