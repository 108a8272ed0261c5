import { RpcException } from '@nestjs/microservices';
import type { DeadLetterReason } from '@autoheal/contracts';
import { classifySqlState, sqlStateOf } from './store-errors.js';

/**
 * How a failed message should be treated. Nest's RPC exception filter replaces unknown
 * errors with a generic object, so the disposition travels inside an RpcException payload.
 */
export type Disposition = 'transient' | 'permanent';

export interface DispositionPayload {
  disposition: Disposition;
  code: string;
  message: string;
  /** The Postgres SQLSTATE behind a store failure, when there was one (see store-errors.ts). */
  sqlState?: string;
  /** Why a permanent failure is dead-lettered, when the handler knows better than `handler_rejected`. */
  reason?: DeadLetterReason;
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
  constructor(code: string, message: string, reason?: DeadLetterReason) {
    super({ disposition: 'permanent', code, message, ...(reason === undefined ? {} : { reason }) } satisfies DispositionPayload);
    this.name = 'PermanentError';
  }
}

/**
 * A handler's store (database) failed: transient — retry, the database may be back — unless the
 * SQLSTATE says the content can never be stored (classifySqlState), then permanent. The
 * SQLSTATE travels in the payload, so the verdict survives Nest's RPC dispatch.
 */
export class StoreFailure extends RpcException {
  constructor(code: string, error: unknown) {
    const sqlState = sqlStateOf(error);
    const message = error instanceof Error ? error.message : String(error);
    const disposition: Disposition = sqlState !== undefined && classifySqlState(sqlState) === 'permanent' ? 'permanent' : 'transient';
    super({ disposition, code, message, ...(sqlState === undefined ? {} : { sqlState }) } satisfies DispositionPayload);
    this.name = 'StoreFailure';
  }
}

/**
 * Reads the disposition from whatever reached the transport: our errors, their payload, or
 * anything else. A database error that no handler mapped is judged by its SQLSTATE too.
 */
export function dispositionOf(error: unknown): DispositionPayload {
  const payload = error instanceof RpcException ? error.getError() : error;
  if (typeof payload === 'object' && payload !== null && 'disposition' in payload) {
    const p = payload as DispositionPayload;
    if (p.disposition === 'transient' || p.disposition === 'permanent') return p;
  }
  const message = error instanceof Error ? error.message : typeof payload === 'object' && payload && 'message' in payload ? String(payload.message) : String(error);
  const sqlState = sqlStateOf(error);
  if (sqlState !== undefined) return { disposition: classifySqlState(sqlState), code: 'store_error', message, sqlState };
  return { disposition: 'transient', code: 'unexpected_error', message };
}

/** Nak delay for the n-th delivery: 250 ms doubling up to 30 s. */
export function retryDelayMs(deliveryCount: number): number {
  return Math.min(250 * 2 ** Math.max(0, deliveryCount - 1), 30_000);
}
