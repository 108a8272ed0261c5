import { InvalidThrottleError } from './admission.errors.js';
import { fieldIssues, MAX_THROTTLE_DURATION_MS, throttleSettings, type FieldIssue } from './throttle.schema.js';

/** What `setThrottle` takes: the command's fields; `expiresAt` as RFC 3339 in UTC or a Date. */
export interface ThrottleInput {
  remediationId: string;
  limitPerSecond: number;
  burst?: number;
  expiresAt: string | Date;
}

/** The throttle in force, for reporting. */
export interface ActiveThrottle {
  remediationId: string;
  limitPerSecond: number;
  /** The bucket size in force (the default filled in). */
  burst: number;
  /** RFC 3339 in UTC. */
  expiresAt: string;
  /** When it was set, RFC 3339 in UTC. */
  setAt: string;
  /** Requests this throttle has shed so far. */
  shed: number;
}

export type AdmissionDecision =
  | { readonly admitted: true }
  | {
      readonly admitted: false;
      /** Whole seconds until a request would be admitted (at least 1, at most until the throttle expires). */
      readonly retryAfterSeconds: number;
      /** The remediation whose throttle shed this request. */
      readonly remediationId: string;
    };

/**
 * `set` (also when one throttle replaces another), `cleared` (by `clearThrottle`) or `expired`.
 * Expiry is noticed lazily: at the first `admit`, `current` or `stats` after `expiresAt`.
 */
export interface ThrottleChange {
  kind: 'set' | 'cleared' | 'expired';
  throttle: ActiveThrottle;
}

export interface AdmissionStats {
  /** Requests admitted since the gate was made, throttled or not. */
  admitted: number;
  /** Requests shed since the gate was made. */
  shed: number;
  /** The throttle in force, if any. */
  throttle: ActiveThrottle | undefined;
}

export interface AdmissionGateOptions {
  /** Milliseconds since the epoch; tests move it. Default `Date.now`. */
  nowMs?: () => number;
  /** Told when an `onChange` listener throws (admission carries on regardless). Default: a process warning. */
  onListenerError?: (error: unknown) => void;
}

/** Internal state of the active throttle: the bucket lives beside the settings it was made from. */
interface Bucket {
  remediationId: string;
  limitPerSecond: number;
  burst: number;
  expiresAtMs: number;
  setAtMs: number;
  /**
   * Tokens in thousandths (one request costs TOKEN): refilled by elapsed ms × limitPerSecond, which
   * stays a whole number for whole limits, so ten 0.1-token refills make exactly one token.
   */
  credit: number;
  refilledAtMs: number;
  shed: number;
}

const ADMITTED: AdmissionDecision = Object.freeze({ admitted: true });
/** The credit one request costs. */
const TOKEN = 1000;
/** Float dust tolerated for fractional limits (0.3/s), a millionth of a token. */
const DUST = 1e-3;

/**
 * Holds at most one throttle (the `throttle` remediation) and decides, per request, whether it is
 * admitted: a token bucket of `burst` tokens refilled at `limitPerSecond`, one token per request.
 * Without a throttle every request is admitted at the cost of one comparison.
 *
 * Written by hand rather than taken from a rate-limiting library because `admit` runs on every
 * request of the tenant's server: no allocation, no timers, no promises, and the expiry checked
 * lazily against the clock instead of a timer that would have to be kept and cleared.
 */
export class AdmissionGate {
  private bucket: Bucket | undefined;
  private admittedCount = 0;
  private shedCount = 0;
  private readonly listeners = new Set<(change: ThrottleChange) => void>();
  private readonly nowMs: () => number;
  private readonly onListenerError: (error: unknown) => void;

  constructor(options: AdmissionGateOptions = {}) {
    this.nowMs = options.nowMs ?? Date.now;
    this.onListenerError =
      options.onListenerError ?? ((error) => process.emitWarning(`autoheal AdmissionGate onChange listener threw: ${String(error)}`));
  }

  /**
   * Validates and applies a throttle, replacing any other; throws `InvalidThrottleError` (naming
   * the field) and changes nothing when it is invalid. A new remediation starts with a full
   * bucket; the same remediation sent again (a retried command) keeps the tokens it had left.
   */
  setThrottle(input: ThrottleInput): ActiveThrottle {
    const now = this.nowMs();
    const settings = parseThrottle(input, now);
    const previous = this.bucket;
    const burst = settings.burst ?? Math.max(1, Math.ceil(settings.limitPerSecond));
    const retried = previous !== undefined && previous.remediationId === settings.remediationId && now < previous.expiresAtMs;
    if (retried) this.refill(previous, now);
    this.bucket = {
      remediationId: settings.remediationId,
      limitPerSecond: settings.limitPerSecond,
      burst,
      expiresAtMs: settings.expiresAtMs,
      setAtMs: retried ? previous.setAtMs : now,
      credit: retried ? Math.min(previous.credit, burst * TOKEN) : burst * TOKEN,
      refilledAtMs: now,
      shed: retried ? previous.shed : 0,
    };
    const active = snapshotOf(this.bucket);
    this.emit({ kind: 'set', throttle: active });
    return active;
  }

  /**
   * Lifts the throttle. With a remediation id, only that remediation's throttle: a late clear from
   * an earlier remediation leaves a newer one in force. Returns whether a throttle was lifted.
   */
  clearThrottle(remediationId?: string): boolean {
    const bucket = this.live(this.nowMs());
    if (!bucket || (remediationId !== undefined && bucket.remediationId !== remediationId)) return false;
    this.bucket = undefined;
    this.emit({ kind: 'cleared', throttle: snapshotOf(bucket) });
    return true;
  }

  /** The throttle in force, or undefined (none set, cleared or expired). */
  current(): ActiveThrottle | undefined {
    const bucket = this.live(this.nowMs());
    return bucket && snapshotOf(bucket);
  }

  /** Decides one request. `now` (ms since the epoch) defaults to the gate's clock. */
  admit(now?: number): AdmissionDecision {
    if (this.bucket === undefined) {
      this.admittedCount++;
      return ADMITTED;
    }
    const at = now ?? this.nowMs();
    const bucket = this.live(at);
    if (bucket === undefined) {
      this.admittedCount++;
      return ADMITTED;
    }
    this.refill(bucket, at);
    if (bucket.credit >= TOKEN - DUST) {
      bucket.credit -= TOKEN;
      this.admittedCount++;
      return ADMITTED;
    }
    bucket.shed++;
    this.shedCount++;
    const msUntilToken = Math.ceil((TOKEN - bucket.credit - DUST) / bucket.limitPerSecond);
    const msUntilExpiry = bucket.expiresAtMs - at;
    const retryAfterSeconds = Math.max(1, Math.ceil(Math.min(msUntilToken, msUntilExpiry) / 1000));
    return { admitted: false, retryAfterSeconds, remediationId: bucket.remediationId };
  }

  get stats(): AdmissionStats {
    return { admitted: this.admittedCount, shed: this.shedCount, throttle: this.current() };
  }

  /** Calls `listener` on every change of the throttle; returns the function that unsubscribes it. */
  onChange(listener: (change: ThrottleChange) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** The active bucket, after dropping it if it expired by `now`. */
  private live(now: number): Bucket | undefined {
    const bucket = this.bucket;
    if (bucket !== undefined && now >= bucket.expiresAtMs) {
      this.bucket = undefined;
      this.emit({ kind: 'expired', throttle: snapshotOf(bucket) });
      return undefined;
    }
    return bucket;
  }

  private refill(bucket: Bucket, now: number): void {
    // A clock that steps back adds nothing (and does not take tokens away).
    if (now <= bucket.refilledAtMs) return;
    bucket.credit = Math.min(bucket.burst * TOKEN, bucket.credit + (now - bucket.refilledAtMs) * bucket.limitPerSecond);
    bucket.refilledAtMs = now;
  }

  private emit(change: ThrottleChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}

/** Shape by the zod schema, then the expiry against the gate's clock. */
function parseThrottle(input: ThrottleInput, now: number): { remediationId: string; limitPerSecond: number; burst?: number; expiresAtMs: number } {
  const candidate = input.expiresAt instanceof Date ? { ...input, expiresAt: isoOrInvalid(input.expiresAt) } : input;
  const parsed = throttleSettings.safeParse(candidate);
  if (!parsed.success) throw new InvalidThrottleError(fieldIssues(parsed.error));
  const expiresAtMs = Date.parse(parsed.data.expiresAt);
  const issue = expiryIssue(expiresAtMs, now);
  if (issue) throw new InvalidThrottleError([issue]);
  return { remediationId: parsed.data.remediationId, limitPerSecond: parsed.data.limitPerSecond, burst: parsed.data.burst, expiresAtMs };
}

function expiryIssue(expiresAtMs: number, now: number): FieldIssue | undefined {
  if (expiresAtMs <= now) return { field: 'expiresAt', message: `must be in the future (it is ${new Date(now).toISOString()})` };
  if (expiresAtMs - now > MAX_THROTTLE_DURATION_MS) {
    return { field: 'expiresAt', message: `must be at most 24 h ahead (latest ${new Date(now + MAX_THROTTLE_DURATION_MS).toISOString()})` };
  }
  return undefined;
}

function isoOrInvalid(date: Date): string {
  return Number.isNaN(date.getTime()) ? 'Invalid Date' : date.toISOString();
}

function snapshotOf(bucket: Bucket): ActiveThrottle {
  return {
    remediationId: bucket.remediationId,
    limitPerSecond: bucket.limitPerSecond,
    burst: bucket.burst,
    expiresAt: new Date(bucket.expiresAtMs).toISOString(),
    setAt: new Date(bucket.setAtMs).toISOString(),
    shed: bucket.shed,
  };
}
