import pino, { type Logger } from 'pino';

/**
 * JSON logs on stdout. The fleet stands in for tenants' own servers, which would not run
 * autoheal's telemetry stack, so it uses plain pino rather than @autoheal/telemetry.
 */
export function createLogger(name: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ name, level: process.env.LOG_LEVEL ?? 'info', base: { pid: process.pid, ...bindings } });
}

export type { Logger };
