import { TenantRateLimiter } from '@autoheal/http';

export interface IngestQuotaPolicy {
  /** The largest body (DETECTOR_INGEST_MAX_BODY_BYTES); at most `byteBurst` (the configuration refuses more). */
  maxBodyBytes: number;
  requestsPerSec: number;
  requestBurst: number;
  bytesPerSec: number;
  byteBurst: number;
  eventsPerSec: number;
  eventBurst: number;
}

export type IngestQuota = 'requests' | 'bytes' | 'events';
export interface QuotaRefusal {
  quota: IngestQuota;
  retryAfterMs: number;
}

/** A body declared larger than any request may be: no wait makes it pass. */
export interface SizeRefusal {
  quota: 'size';
  declaredBytes: number;
  maxBodyBytes: number;
}

/**
 * Per-tenant request and byte budgets, taken before a body is read or parsed, whatever the body
 * turns out to be: a malformed or invalid request costs the same as a valid one, so no tenant
 * can fill the shared stream, dead letters or CPU by sending garbage. Events per second are the
 * third budget, taken once a body is parsed (an unparseable body costs one).
 */
export class IngestQuotas {
  private readonly requests: TenantRateLimiter;
  private readonly bytes: TenantRateLimiter;
  private readonly events: TenantRateLimiter;
  private readonly maxBodyBytes: number;

  constructor(policy: IngestQuotaPolicy, nowMs: () => number) {
    if (policy.maxBodyBytes > policy.byteBurst) {
      throw new RangeError(`the largest body (${policy.maxBodyBytes} bytes) exceeds the byte burst (${policy.byteBurst}): it could never pass`);
    }
    this.maxBodyBytes = policy.maxBodyBytes;
    this.requests = new TenantRateLimiter({ ratePerSec: policy.requestsPerSec, burst: policy.requestBurst }, nowMs);
    this.bytes = new TenantRateLimiter({ ratePerSec: policy.bytesPerSec, burst: policy.byteBurst }, nowMs);
    this.events = new TenantRateLimiter({ ratePerSec: policy.eventsPerSec, burst: policy.eventBurst }, nowMs);
  }

  /** The events (or alerts) of a parsed body. */
  takeEvents(tenantId: string, count: number): QuotaRefusal | null {
    const refused = this.events.take(tenantId, count);
    return refused ? { quota: 'events', ...refused } : null;
  }

  /**
   * One request, and the bytes it declares (Content-Length) when it declares them. A body declared
   * larger than the limit is refused for its size whatever the budgets hold: a 429 would tell the
   * sender to retry something no wait lets through (the byte bucket never holds more than its
   * burst). It still costs its request, so oversized requests cannot flood; its bytes are not
   * charged: they are discarded unparsed (see the body reader).
   */
  admit(tenantId: string, declaredBytes: number | null): QuotaRefusal | SizeRefusal | null {
    const request = this.requests.take(tenantId, 1);
    if (declaredBytes !== null && declaredBytes > this.maxBodyBytes) return { quota: 'size', declaredBytes, maxBodyBytes: this.maxBodyBytes };
    if (request) return { quota: 'requests', ...request };
    return declaredBytes === null ? null : this.chargeBytes(tenantId, declaredBytes);
  }

  /** Bytes read from a body that declared no length (chunked). */
  chargeBytes(tenantId: string, bytes: number): QuotaRefusal | null {
    const refused = this.bytes.take(tenantId, bytes);
    return refused ? { quota: 'bytes', ...refused } : null;
  }
}
