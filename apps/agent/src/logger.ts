import pino, { type Logger } from 'pino';

/**
 * JSON logs on stdout. The agent is installed alone on a tenant's host, without autoheal's
 * services: it uses plain pino rather than @autoheal/telemetry (whose index brings NestJS).
 */
export function createLogger(name: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ name, level: process.env.LOG_LEVEL ?? 'info', base: { pid: process.pid, ...bindings } });
}

export type { Logger };
