/** One remembered outcome, as persisted. */
export interface StoredOutcome<T> {
  key: string;
  value: T;
}

/** Where outcomes survive a restart of the agent. */
export interface OutcomeStorage<T> {
  load(): Promise<StoredOutcome<T>[]>;
  save(outcomes: StoredOutcome<T>[]): Promise<void>;
}

export interface OnceResult<T> {
  value: T;
  /** True when this key had already been (or was being) handled and `work` did not run for this call. */
  replayed: boolean;
}

export interface OutcomeStoreOptions<T> {
  /** Which outcomes are final. Others (failures) are returned but forgotten, so a retry runs the work again. */
  keep: (value: T) => boolean;
  /** Oldest outcomes are forgotten beyond this many, so the state file stays small. */
  maxEntries?: number;
  /** A failed save does not undo the work; it is reported here and retried with the next save. */
  onSaveError?: (error: unknown) => void;
}

/**
 * Runs a piece of work at most once per key (the remediation id) and remembers its outcome.
 * A caller asking again gets the first outcome back marked as replayed; a caller asking while
 * the first is still running waits for it instead of starting a second run.
 */
export class OutcomeStore<T> {
  static async open<T>(storage: OutcomeStorage<T>, options: OutcomeStoreOptions<T>): Promise<OutcomeStore<T>> {
    const store = new OutcomeStore(storage, options);
    for (const { key, value } of await storage.load()) store.remember(key, value);
    return store;
  }

  private readonly done = new Map<string, T>();
  private readonly running = new Map<string, Promise<T>>();
  private readonly maxEntries: number;
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly storage: OutcomeStorage<T>,
    private readonly options: OutcomeStoreOptions<T>,
  ) {
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  get size(): number {
    return this.done.size;
  }

  get(key: string): T | undefined {
    return this.done.get(key);
  }

  async once(key: string, work: () => Promise<T>): Promise<OnceResult<T>> {
    // Running first: an outcome is remembered before it is saved, and a duplicate must not
    // hear it until the save is done.
    const inFlight = this.running.get(key);
    if (inFlight) return { value: await inFlight, replayed: true };
    if (this.done.has(key)) return { value: this.done.get(key) as T, replayed: true };

    const run = (async () => {
      const value = await work();
      if (this.options.keep(value)) {
        this.remember(key, value);
        // Persisted before anyone hears the outcome: an agent that dies right after replying
        // must not repeat the work when it comes back.
        await this.save();
      }
      return value;
    })();
    this.running.set(key, run);
    try {
      return { value: await run, replayed: false };
    } finally {
      this.running.delete(key);
    }
  }

  private remember(key: string, value: T): void {
    this.done.delete(key);
    this.done.set(key, value);
    while (this.done.size > this.maxEntries) {
      const oldest = this.done.keys().next().value as string;
      this.done.delete(oldest);
    }
  }

  /** Saves are chained so that two never write the file at the same time and the last one wins. */
  private save(): Promise<void> {
    const next = this.saving.then(async () => {
      try {
        await this.storage.save([...this.done].map(([key, value]) => ({ key, value })));
      } catch (error) {
        this.options.onSaveError?.(error);
      }
    });
    this.saving = next;
    return next;
  }
}
