import { TenantRateLimiter } from '@autoheal/http';
import type { ReadKind } from './read-records.js';

export interface ReadLimitPolicy {
  /** Tokens per minute per API key. */
  readRatePerMinute: number;
  readBurst: number;
  /** Tokens a page read costs (1) and an incremental verify costs. */
  verifyCost: number;
  /** Full verifications per hour per API key: a bucket of their own, burst 1. */
  fullVerifyPerHour: number;
}

/** Which limit refused a read, for the 429 body. */
export type ReadLimitName = 'reads' | 'full_verify';

export interface ReadLimitRefusal {
  limit: ReadLimitName;
  retryAfterMs: number;
  /** e.g. `120 tokens per minute per API key, burst 60; verify costs 10` */
  description: string;
}

/**
 * Per API key budgets of the audit API, taken before a read touches the database. A page read
 * costs one token, an incremental verify `verifyCost`; a full verification takes from a much
 * smaller bucket of its own. One process's view: replicas each hold their own buckets.
 */
export class AuditReadLimiter {
  private readonly reads: TenantRateLimiter;
  private readonly fullVerifies: TenantRateLimiter;

  constructor(
    private readonly policy: ReadLimitPolicy,
    nowMs: () => number,
  ) {
    this.reads = new TenantRateLimiter({ ratePerSec: policy.readRatePerMinute / 60, burst: policy.readBurst }, nowMs);
    this.fullVerifies = new TenantRateLimiter({ ratePerSec: policy.fullVerifyPerHour / 3600, burst: 1 }, nowMs);
  }

  /** Takes what a read of `kind` costs from `keyId`'s budget; the refusal when it is spent. */
  take(keyId: string, kind: ReadKind): ReadLimitRefusal | null {
    switch (kind) {
      case 'list':
      case 'incidents':
      case 'timeline':
      case 'remediations':
      case 'approvals':
        // A page of a derived view reads about as much as a page of the trail.
        return this.refusal('reads', this.reads.take(keyId, 1));
      case 'verify':
      case 'report':
        // A report aggregates the tenant's rows in the database, about what an incremental verify costs.
        return this.refusal('reads', this.reads.take(keyId, this.policy.verifyCost));
      case 'full_verify':
      case 'export':
        return this.refusal('full_verify', this.fullVerifies.take(keyId, 1));
      default: {
        const unreachable: never = kind;
        throw new Error(`unknown read kind ${String(unreachable)}`);
      }
    }
  }

  private refusal(limit: ReadLimitName, refused: { retryAfterMs: number } | null): ReadLimitRefusal | null {
    if (!refused) return null;
    const p = this.policy;
    const description =
      limit === 'reads'
        ? `audit reads are limited to ${p.readRatePerMinute} tokens per minute per API key (burst ${p.readBurst}); a page costs 1, a verify ${p.verifyCost}`
        : `full verifications are limited to ${p.fullVerifyPerHour} per hour per API key`;
    return { limit, retryAfterMs: refused.retryAfterMs, description };
  }
}
