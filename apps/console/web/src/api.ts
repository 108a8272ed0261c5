// The console's own API (apps/console/src): the session, the live feed, and the two upstream
// APIs behind /api/auditor and /api/decision, called with the person's credential by the server.

export interface Tenant {
  tenantId: string;
  displayName?: string;
}

export interface SessionInfo {
  tenants: Tenant[];
  csrfToken: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken = '';

async function parse<T>(answer: Response): Promise<T> {
  const text = await answer.text();
  const body = text ? (JSON.parse(text) as unknown) : undefined;
  if (!answer.ok) {
    const message = (body as { message?: string | string[] } | undefined)?.message;
    throw new ApiError(answer.status, `${answer.status}: ${Array.isArray(message) ? message.join('; ') : (message ?? answer.statusText)}`);
  }
  return body as T;
}

export async function login(credential: string): Promise<SessionInfo> {
  const info = await parse<SessionInfo>(await fetch('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ credential }) }));
  csrfToken = info.csrfToken;
  return info;
}

export async function currentSession(): Promise<SessionInfo | null> {
  const answer = await fetch('/api/session');
  if (answer.status === 401) return null;
  const info = await parse<SessionInfo>(answer);
  csrfToken = info.csrfToken;
  return info;
}

export async function logout(): Promise<void> {
  await fetch('/api/logout', { method: 'POST', headers: { 'x-console-csrf': csrfToken } });
  csrfToken = '';
}

export async function get<T>(path: string): Promise<T> {
  return parse<T>(await fetch(path, { headers: { accept: 'application/json' } }));
}

/** A state-changing call: JSON body, and the session's CSRF token in a header no other site can set. */
export async function post<T>(path: string, body: unknown): Promise<T> {
  return parse<T>(await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-console-csrf': csrfToken }, body: JSON.stringify(body) }));
}

export const auditor = (path: string) => `/api/auditor${path}`;
export const decision = (path: string) => `/api/decision${path}`;
export const tenantPath = (tenantId: string) => `/v1/tenants/${encodeURIComponent(tenantId)}`;
