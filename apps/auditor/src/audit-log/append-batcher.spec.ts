import { AppendBatcher, laneOf } from './append-batcher';

interface Item {
  key: string;
  n: number;
}

/** A writer whose writes finish when the test says so, recording each batch it was given. */
function controlledWriter() {
  const batches: Item[][] = [];
  const release: (() => void)[] = [];
  let failNext: Error | null = null;
  const write = async (items: Item[]): Promise<string[]> => {
    batches.push(items);
    const failure = failNext;
    failNext = null;
    await new Promise<void>((resolve) => release.push(resolve));
    if (failure) throw failure;
    return items.map((i) => `${i.key}:${i.n}`);
  };
  return {
    write,
    batches,
    /** Lets the oldest running write finish. */
    finishOne: () => release.shift()?.(),
    pending: () => release.length,
    failNextWith: (error: Error) => (failNext = error),
  };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await turn();
  if (!condition()) throw new Error('condition never held');
}

describe('AppendBatcher', () => {
  it('writes what is submitted in one turn as one batch, in order, and gives each caller its own result', async () => {
    const w = controlledWriter();
    const batcher = new AppendBatcher<Item, string>(w.write, (i) => i.key, { maxBatch: 100, lanes: 1 });
    const results = [1, 2, 3].map((n) => batcher.submit({ key: 'a', n }));
    await until(() => w.pending() === 1);
    w.finishOne();
    expect(await Promise.all(results)).toEqual(['a:1', 'a:2', 'a:3']);
    expect(w.batches).toEqual([[{ key: 'a', n: 1 }, { key: 'a', n: 2 }, { key: 'a', n: 3 }]]);
  });

  it('queues what arrives while a lane writes for its next batch, at most maxBatch at a time, one write at a time', async () => {
    const w = controlledWriter();
    const batcher = new AppendBatcher<Item, string>(w.write, (i) => i.key, { maxBatch: 2, lanes: 1 });
    const first = batcher.submit({ key: 'a', n: 1 });
    await until(() => w.pending() === 1);
    const later = [2, 3, 4].map((n) => batcher.submit({ key: 'a', n }));
    await turn();
    // The first write has not finished: nothing else is written meanwhile.
    expect(w.batches).toHaveLength(1);
    w.finishOne();
    expect(await first).toBe('a:1');
    await until(() => w.pending() === 1);
    w.finishOne();
    await until(() => w.pending() === 1);
    w.finishOne();
    expect(await Promise.all(later)).toEqual(['a:2', 'a:3', 'a:4']);
    expect(w.batches.map((b) => b.map((i) => i.n))).toEqual([[1], [2, 3], [4]]);
  });

  it('keeps a key in one lane, so its items are written in the order submitted while other lanes write at once', async () => {
    const lanes = 4;
    const keys = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'tenant-a', 'tenant-b'];
    const written: Item[] = [];
    const batcher = new AppendBatcher<Item, number>(
      async (items) => {
        // Later batches of one lane must not overtake earlier ones: vary how long each write takes.
        await new Promise((resolve) => setTimeout(resolve, (items[0].n * 7) % 5));
        written.push(...items);
        return items.map((i) => i.n);
      },
      (i) => i.key,
      { maxBatch: 3, lanes },
    );
    const submitted: Item[] = [];
    const results: Promise<number>[] = [];
    for (let n = 0; n < 200; n++) {
      const item = { key: keys[(n * 5) % keys.length], n };
      submitted.push(item);
      results.push(batcher.submit(item));
      if (n % 9 === 0) await turn();
    }
    expect(await Promise.all(results)).toEqual(submitted.map((i) => i.n));
    for (const key of keys) {
      expect(written.filter((i) => i.key === key).map((i) => i.n)).toEqual(submitted.filter((i) => i.key === key).map((i) => i.n));
    }
    expect(new Set(keys.map((k) => laneOf(k, lanes))).size).toBeGreaterThan(1);
  });

  it('fails every item of a batch whose write throws, and goes on with the next batch', async () => {
    const w = controlledWriter();
    const batcher = new AppendBatcher<Item, string>(w.write, (i) => i.key, { maxBatch: 10, lanes: 1 });
    w.failNextWith(new Error('database away'));
    const failed = [1, 2].map((n) => batcher.submit({ key: 'a', n }));
    await until(() => w.pending() === 1);
    const next = batcher.submit({ key: 'a', n: 3 });
    w.finishOne();
    await expect(failed[0]).rejects.toThrow('database away');
    await expect(failed[1]).rejects.toThrow('database away');
    await until(() => w.pending() === 1);
    w.finishOne();
    expect(await next).toBe('a:3');
  });

  it('refuses a writer that does not answer for every item', async () => {
    const batcher = new AppendBatcher<Item, string>(async () => ['only one'], (i) => i.key, { maxBatch: 10, lanes: 1 });
    const results = [1, 2].map((n) => batcher.submit({ key: 'a', n }));
    await expect(results[0]).rejects.toThrow('batch writer returned 1 results for 2 items');
    await expect(results[1]).rejects.toThrow('batch writer returned 1 results for 2 items');
  });

  it('spreads keys over lanes by a stable hash', () => {
    expect(laneOf('acme', 4)).toBe(laneOf('acme', 4));
    const spread = new Set(Array.from({ length: 64 }, (_, i) => laneOf(`tenant-${i}`, 4)));
    expect([...spread].sort()).toEqual([0, 1, 2, 3]);
  });
});
