import { Injectable } from '@nestjs/common';

export type HealthCheckResult = boolean | { ok: boolean; detail?: unknown };
export type HealthCheck = () => Promise<HealthCheckResult> | HealthCheckResult;

export interface HealthCheckOutcome {
  ok: boolean;
  detail?: unknown;
  durationMs: number;
}

export interface HealthReport {
  status: 'ok' | 'error';
  checks: Record<string, HealthCheckOutcome>;
}

export const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 2_000;

/** Runs one check; a check that throws or hangs counts as failed, with the reason as detail. */
export async function runHealthCheck(check: HealthCheck, timeoutMs: number, now: () => number = Date.now): Promise<HealthCheckOutcome> {
  const started = now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    const result = await Promise.race([Promise.resolve().then(check), timeout]);
    const outcome = typeof result === 'boolean' ? { ok: result } : { ok: result.ok === true, ...(result.detail === undefined ? {} : { detail: result.detail }) };
    return { ...outcome, durationMs: now() - started };
  } catch (error) {
    return { ok: false, detail: error instanceof Error ? error.message : String(error), durationMs: now() - started };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Named readiness checks of a service (Postgres reachable, NATS connected, …). Modules
 * register theirs at init; GET /health runs them all, concurrently.
 */
@Injectable()
export class HealthCheckRegistry {
  private readonly checks = new Map<string, HealthCheck>();

  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  names(): string[] {
    return [...this.checks.keys()];
  }

  async run(timeoutMs = DEFAULT_HEALTH_CHECK_TIMEOUT_MS): Promise<HealthReport> {
    const entries = await Promise.all([...this.checks].map(async ([name, check]) => [name, await runHealthCheck(check, timeoutMs)] as const));
    const checks = Object.fromEntries(entries);
    return { status: entries.every(([, o]) => o.ok) ? 'ok' : 'error', checks };
  }
}
