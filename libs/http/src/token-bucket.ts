/** One tenant's bucket: tokens left at `updatedAtMs`. */
export interface TokenBucket {
  tokens: number;
  updatedAtMs: number;
}

export interface TokenBucketPolicy {
  /** Tokens added per second. */
  ratePerSec: number;
  /** Most tokens a bucket holds; a new bucket starts full. */
  burst: number;
}

export type TakeResult = { allowed: true; bucket: TokenBucket } | { allowed: false; bucket: TokenBucket; retryAfterMs: number };

/** Refills the bucket to `nowMs`, then takes `cost` tokens if there are enough. Pure. */
export function takeTokens(bucket: TokenBucket | undefined, cost: number, nowMs: number, policy: TokenBucketPolicy): TakeResult {
  const start = bucket ?? { tokens: policy.burst, updatedAtMs: nowMs };
  // A clock that steps back adds nothing rather than draining the bucket.
  const elapsedMs = Math.max(0, nowMs - start.updatedAtMs);
  const tokens = Math.min(policy.burst, start.tokens + (elapsedMs * policy.ratePerSec) / 1000);
  const refilled = { tokens, updatedAtMs: Math.max(nowMs, start.updatedAtMs) };
  if (cost <= tokens) return { allowed: true, bucket: { ...refilled, tokens: tokens - cost } };
  const missing = Math.min(cost, policy.burst) - tokens;
  return { allowed: false, bucket: refilled, retryAfterMs: Math.ceil((missing * 1000) / policy.ratePerSec) };
}

/** Buckets per key (a tenant, an API key) in memory: one process's view; a fleet of replicas multiplies the limit. */
export class TenantRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly policy: TokenBucketPolicy,
    private readonly nowMs: () => number,
  ) {}

  /** Takes `cost` tokens from the tenant's bucket; returns the wait before a retry can pass, or null. */
  take(tenantId: string, cost: number): { retryAfterMs: number } | null {
    const result = takeTokens(this.buckets.get(tenantId), cost, this.nowMs(), this.policy);
    this.buckets.set(tenantId, result.bucket);
    return result.allowed ? null : { retryAfterMs: result.retryAfterMs };
  }
}
