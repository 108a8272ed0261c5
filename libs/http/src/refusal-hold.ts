export interface RefusalHoldOptions {
  /** Longest an answer is held, whatever the Retry-After. */
  maxHoldMs: number;
  /** Answers held at once per key; past it, refusals are answered at once (and the caller may close the connection). */
  maxHeldPerKey: number;
}

/** Held at most 1 s, at most 16 at once per key: what the detector's ingest and the auditor's reads use. */
export const DEFAULT_REFUSAL_HOLD: RefusalHoldOptions = { maxHoldMs: 1_000, maxHeldPerKey: 16 };

/**
 * Holds the answer to a request refused for a rate limit until its Retry-After (at most
 * `maxHoldMs`). A client that honours Retry-After loses nothing: it would have waited that long.
 * A client that retries at once — a flood — was answered as fast as we could refuse, and every
 * refusal still costs the server its HTTP parsing, routing and tracing: cheaper refusals only
 * bought it more of them. Held, each of its connections gets about one answer per hold, so what
 * its refusals cost us falls with the hold instead of rising with its retry rate. Holding costs
 * a timer and an idle socket; `maxHeldPerKey` bounds that per key (a tenant, an API key), and a
 * key past it is answered at once (`held: false`), so the caller can close the connection.
 */
export class RefusalHold {
  private readonly held = new Map<string, number>();

  constructor(private readonly options: RefusalHoldOptions = DEFAULT_REFUSAL_HOLD) {}

  /** Answers now or after the hold; `answer` (and the result) say whether it was held. */
  hold(key: string, retryAfterMs: number, answer: (held: boolean) => void): { held: boolean } {
    const delayMs = Math.min(Math.max(0, retryAfterMs), this.options.maxHoldMs);
    const count = this.held.get(key) ?? 0;
    if (delayMs === 0 || count >= this.options.maxHeldPerKey) {
      answer(false);
      return { held: false };
    }
    this.held.set(key, count + 1);
    const timer = setTimeout(() => {
      const left = (this.held.get(key) ?? 1) - 1;
      if (left === 0) this.held.delete(key);
      else this.held.set(key, left);
      answer(true);
    }, delayMs);
    // A held refusal never keeps a stopping process alive.
    timer.unref();
    return { held: true };
  }

  /** Answers held for `key` right now. */
  heldFor(key: string): number {
    return this.held.get(key) ?? 0;
  }
}
