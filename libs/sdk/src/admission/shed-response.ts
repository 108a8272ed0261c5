import type { AdmissionDecision } from './admission-gate.js';

/** A refused decision: what a shed request is answered with. */
export type ShedDecision = Extract<AdmissionDecision, { admitted: false }>;

export const SHED_STATUS = 503;

/** The JSON body of a shed request. */
export interface ShedBody {
  error: 'throttled';
  retryAfterSeconds: number;
  remediationId: string;
}

export function shedBody(decision: ShedDecision): ShedBody {
  return { error: 'throttled', retryAfterSeconds: decision.retryAfterSeconds, remediationId: decision.remediationId };
}

/**
 * The part of Node's `http.ServerResponse` (and so of Express's `res`) the adapters use: typed
 * structurally so that the SDK needs neither framework at run time nor their types.
 */
export interface NodeResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

/** 503, `Retry-After` in whole seconds and the JSON body; never cached. */
export function writeShedResponse(res: NodeResponseLike, decision: ShedDecision): void {
  res.statusCode = SHED_STATUS;
  res.setHeader('Retry-After', String(decision.retryAfterSeconds));
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(shedBody(decision)));
}
