import { expectEventually } from './expect-eventually.js';

describe('expectEventually', () => {
  it('retries until the assertion holds and returns the result', async () => {
    let calls = 0;
    const result = await expectEventually(
      () => {
        calls++;
        expect(calls).toBeGreaterThanOrEqual(3);
        return 'done';
      },
      { intervalMs: 1 },
    );
    expect(result).toBe('done');
    expect(calls).toBe(3);
  });

  it('awaits async assertions', async () => {
    let ready = false;
    setTimeout(() => (ready = true), 30);
    await expectEventually(async () => expect(await Promise.resolve(ready)).toBe(true), { intervalMs: 5 });
  });

  it('rethrows the last failure once the time is up', async () => {
    const started = Date.now();
    await expect(expectEventually(() => expect(1).toBe(2), { timeoutMs: 100, intervalMs: 10 })).rejects.toThrow(
      /still failing after 100 ms \(\d+ attempts\):[\s\S]*Expected: 2/,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  it('wraps non-Error throws', async () => {
    await expect(
      expectEventually(
        () => {
          throw 'nope'; // eslint-disable-line @typescript-eslint/only-throw-error -- the case under test
        },
        { timeoutMs: 20, intervalMs: 5 },
      ),
    ).rejects.toThrow(/still failing after 20 ms .*nope/);
  });
});
