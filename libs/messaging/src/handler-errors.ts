import { RpcException } from '@nestjs/microservices';

/**
 * How a failed message should be treated. Nest's RPC exception filter replaces unknown
 * errors with a generic object, so the disposition travels inside an RpcException payload.
 */
export type Disposition = 'transient' | 'permanent';

export interface DispositionPayload {
  disposition: Disposition;
  code: string;
  message: string;
}

/** Retry later (nak with backoff): a dependency is down, a lock timed out, an agent did not answer. */
export class TransientError extends RpcException {
  constructor(code: string, message: string) {
    super({ disposition: 'transient', code, message } satisfies DispositionPayload);
    this.name = 'TransientError';
  }
}

/** Never retry (term + dead-letter): the message can never be processed as it is. */
export class PermanentError extends RpcException {
  constructor(code: string, message: string) {
    super({ disposition: 'permanent', code, message } satisfies DispositionPayload);
    this.name = 'PermanentError';
  }
}

/** Reads the disposition from whatever reached the transport: our errors, their payload, or anything else. */
export function dispositionOf(error: unknown): DispositionPayload {
  const payload = error instanceof RpcException ? error.getError() : error;
  if (typeof payload === 'object' && payload !== null && 'disposition' in payload) {
    const p = payload as DispositionPayload;
    if (p.disposition === 'transient' || p.disposition === 'permanent') return p;
  }
  const message = error instanceof Error ? error.message : typeof payload === 'object' && payload && 'message' in payload ? String(payload.message) : String(error);
  return { disposition: 'transient', code: 'unexpected_error', message };
}

/** Nak delay for the n-th delivery: 250 ms doubling up to 30 s. */
export function retryDelayMs(deliveryCount: number): number {
  return Math.min(250 * 2 ** Math.max(0, deliveryCount - 1), 30_000);
}
