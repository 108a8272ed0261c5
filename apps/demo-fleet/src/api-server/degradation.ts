import type { Degradation } from '@autoheal/contracts';
import type { ApiResponse } from './api-server.routes.js';

/**
 * Faults an instance can be told to simulate (`npx autoheal demo errors|slow|leak …`), each
 * meant to be caught by a different detector rule: errors by the error-rate threshold, slow by
 * the latency anomaly baseline, leak by the memory trend forecast. A new process starts healthy,
 * so a restart clears any of them, as it would clear a poisoned process in production.
 */
export { DEGRADATIONS, degradeMessage, type Degradation, type DegradeMessage } from '@autoheal/contracts';

const MiB = 1024 * 1024;

export interface DegradationSettings {
  /** errors: share of requests answered 500. */
  errorShare: number;
  /** slow: added to every request. */
  slowMs: number;
  /** leak: memory retained per second. */
  leakBytesPerSecond: number;
}

/**
 * Sized against the demo rules (deploy/demo/detector-rules.json) so that each fault is caught by
 * its own rule and by no other one.
 */
export const DEFAULT_DEGRADATION_SETTINGS: Readonly<DegradationSettings> = Object.freeze({
  // Far above the error-rate rule's 5 %, even in a window of only a few requests.
  errorShare: 0.8,
  // Hundreds of times the baseline of a local request, yet under the 1 s p99 threshold: an
  // anomaly for this service rather than a breach of the static latency rule.
  slowMs: 400,
  // Against a 256 MiB limit: from a typical 70 MiB the 90 % line is about 40 s away, long
  // enough for the trend to predict the crossing before the saturation rule would see it.
  leakBytesPerSecond: 4 * MiB,
});

export interface RequestTreatment {
  /** Answer with INJECTED_FAILURE instead of routing the request. */
  fail: boolean;
  /** Wait this long before answering. */
  delayMs: number;
}

export const INJECTED_FAILURE: ApiResponse = { status: 500, body: { error: 'injected_fault' } };

const HEALTHY: RequestTreatment = Object.freeze({ fail: false, delayMs: 0 });

/**
 * What one request gets under the current degradation. `roll` is a uniform draw in [0, 1),
 * passed in so that the decision itself is deterministic. /healthz is never degraded: the agent
 * and operators must still see which process answers, and a degraded process is alive.
 */
export function treatRequest(degradation: Degradation | null, settings: DegradationSettings, url: string, roll: number): RequestTreatment {
  if (degradation === null || new URL(url, 'http://localhost').pathname === '/healthz') return HEALTHY;
  switch (degradation) {
    case 'errors':
      return { fail: roll < settings.errorShare, delayMs: 0 };
    case 'slow':
      return { fail: false, delayMs: settings.slowMs };
    case 'leak':
      return HEALTHY;
    default:
      return assertNever(degradation);
  }
}

/**
 * Bytes to retain for one leak tick of `tickMs`. The leak stops at the memory limit, where a
 * container would be OOM-killed: a leak nobody heals must not take the host's memory.
 */
export function leakBytes(degradation: Degradation | null, settings: DegradationSettings, tickMs: number, rssBytes: number, limitBytes: number): number {
  if (degradation !== 'leak' || rssBytes >= limitBytes) return 0;
  return Math.min(Math.round((settings.leakBytesPerSecond * tickMs) / 1000), limitBytes - rssBytes);
}

function assertNever(value: never): never {
  throw new Error(`unhandled degradation ${String(value)}`);
}
