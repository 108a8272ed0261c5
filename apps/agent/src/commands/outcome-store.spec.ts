import { OutcomeStore, type OutcomeStorage, type StoredOutcome } from './outcome-store.js';

interface Outcome {
  ok: boolean;
  pid: number;
}

/** Storage in memory that can be made slow or failing, to look at ordering and errors. */
class MemoryStorage implements OutcomeStorage<Outcome> {
  saved: StoredOutcome<Outcome>[] = [];
  saves = 0;
  failNext = false;
  gate: Promise<void> | undefined;

  constructor(private readonly initial: StoredOutcome<Outcome>[] = []) {}

  load(): Promise<StoredOutcome<Outcome>[]> {
    return Promise.resolve(this.initial);
  }

  async save(outcomes: StoredOutcome<Outcome>[]): Promise<void> {
    await this.gate;
    this.saves += 1;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk full');
    }
    this.saved = outcomes.map((o) => ({ ...o }));
  }
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const keepOk = (value: Outcome) => value.ok;

describe('OutcomeStore', () => {
  it('runs the work once and replays its outcome to a second caller with the same key', async () => {
    const storage = new MemoryStorage();
    const store = await OutcomeStore.open(storage, { keep: keepOk });
    let runs = 0;
    const work = () => Promise.resolve({ ok: true, pid: 100 + ++runs });

    expect(await store.once('r-1', work)).toEqual({ value: { ok: true, pid: 101 }, replayed: false });
    expect(await store.once('r-1', work)).toEqual({ value: { ok: true, pid: 101 }, replayed: true });
    expect(runs).toBe(1);
    expect(storage.saved).toEqual([{ key: 'r-1', value: { ok: true, pid: 101 } }]);
  });

  it('treats different keys independently', async () => {
    const store = await OutcomeStore.open(new MemoryStorage(), { keep: keepOk });
    let runs = 0;
    const work = () => Promise.resolve({ ok: true, pid: ++runs });
    await store.once('a', work);
    expect(await store.once('b', work)).toEqual({ value: { ok: true, pid: 2 }, replayed: false });
  });

  it('makes a concurrent duplicate wait for the first run instead of starting a second one', async () => {
    const store = await OutcomeStore.open(new MemoryStorage(), { keep: keepOk });
    const release = deferred();
    let runs = 0;
    const work = async () => {
      runs += 1;
      await release.promise;
      return { ok: true, pid: 7 };
    };
    const first = store.once('r-1', work);
    const second = store.once('r-1', work);
    let secondSettled = false;
    void second.then(() => (secondSettled = true));
    await new Promise((r) => setImmediate(r));
    expect(secondSettled).toBe(false);
    release.resolve();
    expect(await first).toEqual({ value: { ok: true, pid: 7 }, replayed: false });
    expect(await second).toEqual({ value: { ok: true, pid: 7 }, replayed: true });
    expect(runs).toBe(1);
  });

  it('does not answer a duplicate before the first outcome is saved', async () => {
    const storage = new MemoryStorage();
    const store = await OutcomeStore.open(storage, { keep: keepOk });
    const saveGate = deferred();
    storage.gate = saveGate.promise;
    const first = store.once('r-1', () => Promise.resolve({ ok: true, pid: 1 }));
    await new Promise((r) => setImmediate(r));
    let duplicateSettled = false;
    const duplicate = store.once('r-1', () => Promise.resolve({ ok: true, pid: 2 })).then((r) => {
      duplicateSettled = true;
      return r;
    });
    await new Promise((r) => setImmediate(r));
    expect(duplicateSettled).toBe(false);
    saveGate.resolve();
    await first;
    expect(await duplicate).toEqual({ value: { ok: true, pid: 1 }, replayed: true });
    expect(storage.saved).toHaveLength(1);
  });

  it('forgets an outcome that is not final, so a retry does the work again', async () => {
    const storage = new MemoryStorage();
    const store = await OutcomeStore.open(storage, { keep: keepOk });
    const outcomes = [
      { ok: false, pid: 0 },
      { ok: true, pid: 5 },
    ];
    const work = () => Promise.resolve(outcomes.shift()!);
    expect(await store.once('r-1', work)).toEqual({ value: { ok: false, pid: 0 }, replayed: false });
    expect(await store.once('r-1', work)).toEqual({ value: { ok: true, pid: 5 }, replayed: false });
    expect(await store.once('r-1', work)).toEqual({ value: { ok: true, pid: 5 }, replayed: true });
    expect(storage.saves).toBe(1);
  });

  it('passes an exception to every waiting caller and lets a later call try again', async () => {
    const store = await OutcomeStore.open(new MemoryStorage(), { keep: keepOk });
    const release = deferred();
    const failing = async () => {
      await release.promise;
      throw new Error('boom');
    };
    const first = store.once('r-1', failing);
    const second = store.once('r-1', failing);
    release.resolve();
    await expect(first).rejects.toThrow('boom');
    await expect(second).rejects.toThrow('boom');
    expect(await store.once('r-1', () => Promise.resolve({ ok: true, pid: 9 }))).toEqual({ value: { ok: true, pid: 9 }, replayed: false });
  });

  it('replays outcomes loaded from storage without running the work', async () => {
    const storage = new MemoryStorage([{ key: 'r-old', value: { ok: true, pid: 42 } }]);
    const store = await OutcomeStore.open(storage, { keep: keepOk });
    const work = jest.fn(() => Promise.resolve({ ok: true, pid: 1 }));
    expect(await store.once('r-old', work)).toEqual({ value: { ok: true, pid: 42 }, replayed: true });
    expect(work).not.toHaveBeenCalled();
  });

  it('forgets the oldest outcomes beyond maxEntries', async () => {
    const storage = new MemoryStorage();
    const store = await OutcomeStore.open(storage, { keep: keepOk, maxEntries: 2 });
    for (const key of ['a', 'b', 'c']) await store.once(key, () => Promise.resolve({ ok: true, pid: key.charCodeAt(0) }));
    expect(store.size).toBe(2);
    expect(store.get('a')).toBeUndefined();
    expect(storage.saved.map((o) => o.key)).toEqual(['b', 'c']);
  });

  it('still returns the outcome when saving fails, reports the error, and saves it with the next one', async () => {
    const storage = new MemoryStorage();
    const errors: unknown[] = [];
    const store = await OutcomeStore.open(storage, { keep: keepOk, onSaveError: (e) => errors.push(e) });
    storage.failNext = true;
    expect(await store.once('a', () => Promise.resolve({ ok: true, pid: 1 }))).toEqual({ value: { ok: true, pid: 1 }, replayed: false });
    expect(errors).toHaveLength(1);
    // Remembered in memory all the same: no second run in this process.
    expect((await store.once('a', () => Promise.resolve({ ok: true, pid: 2 }))).replayed).toBe(true);
    await store.once('b', () => Promise.resolve({ ok: true, pid: 3 }));
    expect(storage.saved.map((o) => o.key)).toEqual(['a', 'b']);
  });
});
