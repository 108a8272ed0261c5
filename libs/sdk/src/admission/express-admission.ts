import type { AdmissionGate } from './admission-gate.js';
import { writeShedResponse, type NodeResponseLike } from './shed-response.js';

/** Express middleware `(req, res, next)`; mount it before the routes it should protect. */
export type ExpressAdmissionMiddleware = (req: unknown, res: NodeResponseLike, next: () => void) => void;

/**
 * `app.use(expressAdmission(gate))`: an admitted request goes on to `next()`, a shed one is
 * answered 503 with `Retry-After` and never reaches a route.
 */
export function expressAdmission(gate: AdmissionGate): ExpressAdmissionMiddleware {
  return (_req, res, next) => {
    const decision = gate.admit();
    if (decision.admitted) next();
    else writeShedResponse(res, decision);
  };
}
