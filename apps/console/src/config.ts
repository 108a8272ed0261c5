import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { HTTP_HOST_ENV } from '@autoheal/http';

const url = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).transform((u) => u.replace(/\/+$/, ''));
const ms = (fallback: number, min: number) => z.coerce.number().int().min(min).default(fallback);

/** What the console needs; the same names as the CLI's where they mean the same (AUTOHEAL_*_URL). */
const schema = z.object({
  ...HTTP_HOST_ENV,
  CONSOLE_PORT: z.coerce.number().int().min(0).max(65_535).default(3004),
  AUTOHEAL_AUDITOR_URL: url.default('http://127.0.0.1:3000'),
  AUTOHEAL_DECISION_URL: url.default('http://127.0.0.1:3002'),
  /** The built front-end (vite build). */
  CONSOLE_WEB_DIR: z.string().min(1).default(join(__dirname, 'web')),
  /** How often the live feed asks the auditor for each tenant's incidents (one read each). */
  CONSOLE_FEED_POLL_MS: ms(3_000, 250),
  /** A session unused this long is forgotten (the person logs in again). */
  CONSOLE_SESSION_IDLE_MS: ms(8 * 60 * 60_000, 1_000),
  /** Behind TLS (an ingress): the session cookie is sent over HTTPS only. */
  CONSOLE_SECURE_COOKIE: z.enum(['0', '1', 'true', 'false']).default('0').transform((v) => v === '1' || v === 'true'),
});

export type ConsoleConfig = z.output<typeof schema>;

/** Validated once at boot; the error lists every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ConsoleConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid console configuration:\n${lines.join('\n')}`);
  }
  if (!existsSync(join(parsed.data.CONSOLE_WEB_DIR, 'index.html'))) {
    throw new Error(`invalid console configuration:\n  CONSOLE_WEB_DIR: no index.html in ${parsed.data.CONSOLE_WEB_DIR} (run npm run build)`);
  }
  return parsed.data;
}
