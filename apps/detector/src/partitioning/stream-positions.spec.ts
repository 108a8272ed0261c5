import { StreamPositions } from './stream-positions.js';

describe('StreamPositions', () => {
  it('applies live events only of loaded partitions, and only past what their takeover read', () => {
    const positions = new StreamPositions();
    positions.tookOver([1, 2], 100);
    expect(positions.shouldApply(1, 100)).toBe(false);
    expect(positions.shouldApply(1, 101)).toBe(true);
    expect(positions.shouldApply(3, 101)).toBe(false);
    expect(positions.shouldApply(undefined, 101)).toBe(false);
    positions.released([1]);
    expect(positions.shouldApply(1, 101)).toBe(false);
    expect(positions.isLoaded(2)).toBe(true);
    expect(positions.loadedCount).toBe(1);
  });

  it('checkpoints each partition at what the live consumer handled, or at its takeover when that read further', () => {
    const positions = new StreamPositions();
    positions.tookOver([1, 2], 100);
    expect(positions.checkpoints()).toEqual(new Map([[100, [1, 2]]]));
    positions.handled(120);
    positions.handled(110); // a redelivery behind: the newest stays
    positions.tookOver([3], 150);
    expect(positions.checkpoints()).toEqual(
      new Map([
        [120, [1, 2]],
        [150, [3]],
      ]),
    );
  });
});
