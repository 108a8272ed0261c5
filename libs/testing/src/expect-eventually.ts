export interface ExpectEventuallyOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Retries `fn` (typically a block of `expect(...)`s) until it stops throwing, and returns its
 * result. After `timeoutMs` the last failure is rethrown, so the report shows the assertion
 * that never came true rather than a bare timeout. Use instead of sleeps for asynchronous effects.
 */
export async function expectEventually<T>(
  fn: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 50 }: ExpectEventuallyOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      return await fn();
    } catch (error) {
      if (Date.now() >= deadline) {
        if (error instanceof Error) {
          error.message = `still failing after ${timeoutMs} ms (${attempts} attempts): ${error.message}`;
          throw error;
        }
        throw new Error(`still failing after ${timeoutMs} ms (${attempts} attempts): ${String(error)}`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
