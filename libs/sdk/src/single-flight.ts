/**
 * Wraps an asynchronous task so that calls made while it runs share that run instead of starting
 * another; the first call after it settles starts a fresh one.
 */
export function singleFlight(task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    // Cleared in a `finally` callback, which always runs after this assignment. Clearing inside
    // the task itself runs first when the task finishes without reaching an `await` (nothing to
    // do), and the settled promise would then be kept and handed out, doing nothing, forever.
    running ??= task().finally(() => (running = undefined));
    return running;
  };
}
