import { takeTokens, TenantRateLimiter } from './token-bucket.js';

const policy = { ratePerSec: 10, burst: 100 };

describe('takeTokens', () => {
  it.each([
    // [name, bucket, cost, nowMs, allowed, tokensAfter, retryAfterMs]
    ['a new bucket starts full', undefined, 100, 0, true, 0, undefined],
    ['takes from what is left', { tokens: 50, updatedAtMs: 0 }, 20, 0, true, 30, undefined],
    ['refills with elapsed time', { tokens: 0, updatedAtMs: 0 }, 10, 1_000, true, 0, undefined],
    ['never refills past burst', { tokens: 90, updatedAtMs: 0 }, 0, 60_000, true, 100, undefined],
    ['refuses and says how long to wait', { tokens: 5, updatedAtMs: 0 }, 10, 0, false, 5, 500],
    ['a cost above burst waits for a full bucket, not forever', { tokens: 0, updatedAtMs: 0 }, 500, 0, false, 0, 10_000],
    ['a clock stepping back adds nothing', { tokens: 5, updatedAtMs: 1_000 }, 10, 0, false, 5, 500],
  ] as const)('%s', (_name, bucket, cost, nowMs, allowed, tokensAfter, retryAfterMs) => {
    const result = takeTokens(bucket, cost, nowMs, policy);
    expect(result.allowed).toBe(allowed);
    expect(result.bucket.tokens).toBeCloseTo(tokensAfter);
    expect(result.allowed ? undefined : result.retryAfterMs).toBe(retryAfterMs);
  });
});

describe('TenantRateLimiter', () => {
  it('keeps one bucket per tenant', () => {
    let now = 0;
    const limiter = new TenantRateLimiter(policy, () => now);
    expect(limiter.take('a', 100)).toBeNull();
    expect(limiter.take('a', 1)).toEqual({ retryAfterMs: 100 });
    expect(limiter.take('b', 100)).toBeNull();
    now = 100;
    expect(limiter.take('a', 1)).toBeNull();
  });
});
