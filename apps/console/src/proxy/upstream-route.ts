export type Upstream = 'auditor' | 'decision';

export interface UpstreamRoute {
  upstream: Upstream;
  /** Path and query as the upstream API spells it (`/v1/…`). */
  path: string;
}

const SEGMENT = String.raw`[A-Za-z0-9_-]+`;
const ID = String.raw`[A-Za-z0-9-]+`;

/**
 * What the console may ask of each API on the person's behalf: every read the pages need, and
 * the three decisions a person takes (approve, reject, resume). Anything else — creating keys,
 * applying tenant documents — is not a console action, so the proxy is not a way around the
 * CLI's explicit verbs.
 */
const ALLOWED: { method: 'GET' | 'POST'; upstream: Upstream; pattern: RegExp }[] = [
  { method: 'GET', upstream: 'auditor', pattern: new RegExp(`^/v1/tenants/${SEGMENT}/(incidents|incidents/${ID}/timeline|remediations|approvals/pending|audit|audit/verify|audit/export|reports/compliance)$`) },
  { method: 'GET', upstream: 'auditor', pattern: /^\/v1\/audit\/keys$/ },
  { method: 'GET', upstream: 'decision', pattern: new RegExp(`^/v1/admin/(tenants|tenants/${SEGMENT}|tenants/${SEGMENT}/versions|tenants/${SEGMENT}/diff|breaker)$`) },
  { method: 'POST', upstream: 'decision', pattern: new RegExp(`^/v1/admin/(remediations/${ID}:(approve|reject)|breaker:resume|breaker/tenants/${SEGMENT}:resume)$`) },
];

/**
 * `/api/<auditor|decision>/v1/…?…` → the upstream and its path, when the method and path are
 * one the console forwards; null otherwise. Works on the raw request target: no dot segments,
 * no percent-encoding in the path (a tenant or id never needs one), so what is checked is what
 * is sent.
 */
export function upstreamRoute(method: string, target: string): UpstreamRoute | null {
  const match = /^\/api\/(auditor|decision)(\/[^?#]*)(\?[^#]*)?$/.exec(target);
  if (!match) return null;
  const [, upstream, path, query = ''] = match as unknown as [string, Upstream, string, string | undefined];
  if (path.includes('%') || path.includes('//')) return null;
  const allowed = ALLOWED.some((r) => r.method === method && r.upstream === upstream && r.pattern.test(path));
  return allowed ? { upstream, path: `${path}${query}` } : null;
}

/** State-changing methods need the session's CSRF token. */
export function changesState(method: string): boolean {
  return !['GET', 'HEAD', 'OPTIONS'].includes(method);
}
