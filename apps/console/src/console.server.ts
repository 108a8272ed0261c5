import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '@autoheal/telemetry';
import type { ConsoleConfig } from './config.js';
import { serveFeed } from './feed/live-feed.js';
import { forward, readBody } from './proxy/forward.js';
import { changesState, upstreamRoute } from './proxy/upstream-route.js';
import { clearedSessionCookie, readCookie, SESSION_COOKIE, sessionCookie } from './session/cookies.js';
import { csrfMatches, SessionStore, type Session, type TenantSummary } from './session/session-store.js';
import { serveStatic } from './web-files/static-files.js';

/** Headers on every answer: no framing (clickjacking an approve button), scripts from here only. */
const SECURITY_HEADERS = {
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

const refuse = (res: ServerResponse, status: number, code: string, message: string) => json(res, status, { statusCode: status, code, message });

/**
 * A request from another site: its Origin (sent by browsers on every POST) names another host.
 * With SameSite=Strict the cookie would not come along anyway; this also covers older browsers
 * and the login, which has no session yet.
 */
function crossOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

async function upstreamStatus(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return 0;
  }
}

/**
 * Logs a person in: the credential is good when the decision service's admin API accepts it,
 * and the tenants it lists are the session's scope (the feed polls those). Both APIs accept the
 * same personal keys and OIDC tokens; the bootstrap keys of one service are unknown to the other
 * and are refused here with the upstream's answer.
 */
async function login(config: ConsoleConfig, credential: string): Promise<{ ok: true; tenants: TenantSummary[] } | { ok: false; status: number; message: string }> {
  const answer = await fetch(`${config.AUTOHEAL_DECISION_URL}/v1/admin/tenants`, {
    headers: { authorization: `Bearer ${credential}`, accept: 'application/json' },
    signal: AbortSignal.timeout(15_000),
  }).catch((error: Error) => error);
  if (answer instanceof Error) return { ok: false, status: 502, message: `the decision service did not answer: ${answer.message}` };
  if (!answer.ok) {
    const body = (await answer.json().catch(() => ({}))) as { message?: string };
    return { ok: false, status: answer.status === 401 || answer.status === 403 ? 401 : 502, message: body.message ?? `the decision service answered ${answer.status}` };
  }
  const { items } = (await answer.json()) as { items: TenantSummary[] };
  return { ok: true, tenants: items.map((t) => ({ tenantId: t.tenantId, displayName: t.displayName })) };
}

export function createConsoleServer(config: ConsoleConfig, logger: Logger, now: () => number = Date.now): Server {
  const sessions = new SessionStore(config.CONSOLE_SESSION_IDLE_MS, now);
  const upstreamUrl = { auditor: config.AUTOHEAL_AUDITOR_URL, decision: config.AUTOHEAL_DECISION_URL };
  const sessionOf = (req: IncomingMessage): Session | undefined => sessions.get(readCookie(req.headers.cookie, SESSION_COOKIE));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = req.url ?? '/';
    const pathname = target.split('?')[0];
    const method = req.method ?? 'GET';
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);

    if (pathname === '/health/live') return json(res, 200, { status: 'ok' });
    if (pathname === '/health/ready') {
      const [auditor, decision] = await Promise.all([upstreamStatus(`${upstreamUrl.auditor}/health/live`), upstreamStatus(`${upstreamUrl.decision}/health/live`)]);
      const ready = auditor === 200 && decision === 200;
      return json(res, ready ? 200 : 503, { status: ready ? 'ok' : 'unavailable', auditor: auditor === 200 ? 'up' : 'down', decision: decision === 200 ? 'up' : 'down' });
    }
    if (!pathname.startsWith('/api/')) {
      if (method !== 'GET' && method !== 'HEAD') return refuse(res, 405, 'method_not_allowed', `${method} is not served here`);
      return serveStatic(config.CONSOLE_WEB_DIR, pathname, res);
    }
    if (changesState(method) && crossOrigin(req)) return refuse(res, 403, 'cross_origin', 'a request from another origin');

    if (pathname === '/api/login' && method === 'POST') {
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return refuse(res, 415, 'json_only', 'send the credential as application/json');
      const body = JSON.parse((await readBody(req, 16 * 1024)).toString('utf8') || '{}') as { credential?: unknown };
      const credential = typeof body.credential === 'string' ? body.credential.trim() : '';
      if (credential.length < 16 || /\s/.test(credential)) return refuse(res, 400, 'invalid_credential', 'an API key or an OIDC token (no spaces, at least 16 characters)');
      const result = await login(config, credential);
      if (!result.ok) return refuse(res, result.status, 'login_refused', result.message);
      sessions.delete(readCookie(req.headers.cookie, SESSION_COOKIE));
      const session = sessions.create(credential, result.tenants);
      logger.info({ tenants: session.tenants.length }, 'console login');
      return json(res, 200, { tenants: session.tenants, csrfToken: session.csrfToken }, { 'set-cookie': sessionCookie(session.id, config.CONSOLE_SECURE_COOKIE) });
    }

    const session = sessionOf(req);
    if (pathname === '/api/logout' && method === 'POST') {
      if (session && !csrfMatches(session, req.headers['x-console-csrf'])) return refuse(res, 403, 'csrf', 'missing or wrong X-Console-CSRF header');
      sessions.delete(session?.id);
      return json(res, 200, { loggedOut: true }, { 'set-cookie': clearedSessionCookie(config.CONSOLE_SECURE_COOKIE) });
    }
    if (!session) return refuse(res, 401, 'no_session', 'log in first');
    if (pathname === '/api/session' && method === 'GET') return json(res, 200, { tenants: session.tenants, csrfToken: session.csrfToken });
    if (pathname === '/api/feed' && method === 'GET') return serveFeed(req, res, session, { auditorUrl: upstreamUrl.auditor, pollMs: config.CONSOLE_FEED_POLL_MS });

    const route = upstreamRoute(method, target);
    if (!route) return refuse(res, 404, 'not_forwarded', `${method} ${pathname} is not something the console forwards`);
    if (changesState(method) && !csrfMatches(session, req.headers['x-console-csrf'])) return refuse(res, 403, 'csrf', 'missing or wrong X-Console-CSRF header');
    const body = method === 'POST' ? await readBody(req) : undefined;
    return forward(req, res, { url: `${upstreamUrl[route.upstream]}${route.path}`, credential: session.credential, body });
  };

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.warn({ err: error, url: req.url }, 'console request failed');
      if (!res.headersSent) refuse(res, 502, 'upstream_failed', (error as Error).message ?? 'failed');
      else res.end();
    });
  });
}
