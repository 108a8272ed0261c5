import { context, ROOT_CONTEXT } from '@opentelemetry/api';

/** Appends per transaction at most: the floor of the append benchmark writes 100 rows a statement too. */
export const APPEND_BATCH_MAX = 100;
/**
 * Transactions appending at once. A tenant always goes to the same lane (a stable hash), so
 * lanes lock disjoint sets of tenants and never wait for each other's chain.
 */
export const APPEND_LANES = 4;

/** Writes a batch; returns one result per item, in order. Throwing fails every item of the batch. */
export type BatchWriter<T, R> = (items: T[]) => Promise<R[]>;

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

interface Lane<T, R> {
  queue: Waiting<T, R>[];
  running: boolean;
}

/** A turn of the event loop: what callers submit meanwhile joins the next batch. */
const nextTurn = () => new Promise<void>((resume) => setImmediate(resume));

/** FNV-1a of a string: stable across processes and releases, unlike anything keyed on memory. */
export function laneOf(key: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % lanes;
}

/**
 * Group commit: items submitted while a lane is writing wait and are written together by the
 * next write of that lane, at most `maxBatch` at a time. Within a lane, items are written in the
 * order they were submitted, and a lane writes one batch at a time, so what is submitted for one
 * key in order is written in that order. A submission resolves only once its batch is written.
 */
export class AppendBatcher<T, R> {
  private readonly lanes: Lane<T, R>[];

  constructor(
    private readonly write: BatchWriter<T, R>,
    private readonly keyOf: (item: T) => string,
    private readonly options: { maxBatch: number; lanes: number } = { maxBatch: APPEND_BATCH_MAX, lanes: APPEND_LANES },
  ) {
    this.lanes = Array.from({ length: Math.max(1, options.lanes) }, () => ({ queue: [], running: false }));
  }

  /** Queues the item synchronously (the order of calls is the order of writing), resolves with its result. */
  submit(item: T): Promise<R> {
    const lane = this.lanes[laneOf(this.keyOf(item), this.lanes.length)];
    const done = new Promise<R>((resolve, reject) => lane.queue.push({ item, resolve, reject }));
    if (!lane.running) {
      lane.running = true;
      // A batch is no one caller's work: its spans do not join the first caller's trace.
      void context.with(ROOT_CONTEXT, () => this.drain(lane));
    }
    return done;
  }

  private async drain(lane: Lane<T, R>): Promise<void> {
    try {
      while (lane.queue.length > 0) {
        // Lets the callers of this turn (a consumer handing over a pulled batch) join.
        await nextTurn();
        const batch = lane.queue.splice(0, Math.max(1, this.options.maxBatch));
        try {
          const results = await this.write(batch.map((w) => w.item));
          if (results.length !== batch.length) throw new Error(`batch writer returned ${results.length} results for ${batch.length} items`);
          batch.forEach((w, i) => w.resolve(results[i]));
        } catch (error) {
          for (const w of batch) w.reject(error);
        }
      }
    } finally {
      lane.running = false;
    }
  }
}
