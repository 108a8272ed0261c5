import type { AdmissionGate } from './admission-gate.js';
import { SHED_STATUS, shedBody } from './shed-response.js';

/** The part of Fastify's `reply` the hook uses (structural: Fastify is not a dependency of the SDK). */
export interface FastifyReplyLike {
  code(statusCode: number): unknown;
  header(name: string, value: string): unknown;
  send(payload: object): unknown;
}

/** A callback-style Fastify `onRequest` hook. */
export type FastifyAdmissionHook = (request: unknown, reply: FastifyReplyLike, done: () => void) => void;

/**
 * `app.addHook('onRequest', fastifyAdmission(gate))`: runs before routing and body parsing; a shed
 * request is answered 503 with `Retry-After` (and, as Fastify wants of a hook that replies, `done`
 * is not called). Callback style, so that admitting costs no promise.
 */
export function fastifyAdmission(gate: AdmissionGate): FastifyAdmissionHook {
  return (_request, reply, done) => {
    const decision = gate.admit();
    if (decision.admitted) {
      done();
      return;
    }
    reply.code(SHED_STATUS);
    reply.header('Retry-After', String(decision.retryAfterSeconds));
    reply.header('Cache-Control', 'no-store');
    reply.send(shedBody(decision));
  };
}
