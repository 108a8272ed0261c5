import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Autoheal-Signature';
export const TIMESTAMP_HEADER = 'X-Autoheal-Timestamp';

/** `sha256=<hex>` of the HMAC-SHA256 of the raw body: what a receiver recomputes to trust a webhook. */
export function signBody(secret: string, rawBody: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

export type AttemptResult = { ok: true; status: number } | { ok: false; status: number | null; error: string; retryable: boolean };

/** 2xx delivered; 408, 429, 5xx and network errors are worth retrying; other 4xx will not get better. */
export function classifyResponse(status: number): AttemptResult {
  if (status >= 200 && status < 300) return { ok: true, status };
  const retryable = status === 408 || status === 429 || status >= 500;
  return { ok: false, status, error: `HTTP ${status}`, retryable };
}

/** Exponential backoff: base · 2^(attempts-1), capped. */
export function nextAttemptDelay(attempts: number, baseMs: number, capMs = 5 * 60_000): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempts - 1));
}
