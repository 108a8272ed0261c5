import type { AdmissionGate } from './admission-gate.js';
import { writeShedResponse, type NodeResponseLike } from './shed-response.js';

/**
 * Wraps a `node:http` request listener: `http.createServer(nodeHttpAdmission(gate, handler))`.
 * An admitted request is passed to `handler` (its return value, e.g. a promise, is returned); a
 * shed one is answered 503 with `Retry-After` and `handler` is not called.
 */
export function nodeHttpAdmission<Req, Res extends NodeResponseLike, Result>(
  gate: AdmissionGate,
  handler: (req: Req, res: Res) => Result,
): (req: Req, res: Res) => Result | undefined {
  return (req, res) => {
    const decision = gate.admit();
    if (decision.admitted) return handler(req, res);
    writeShedResponse(res, decision);
    return undefined;
  };
}
