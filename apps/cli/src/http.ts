import type { Connection } from './connection.js';
import { CliError, CliErrorCode, type ApiDocumentError } from './cli.errors.js';

const TIMEOUT_MS = 30_000;

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function documentErrors(body: Record<string, unknown>): ApiDocumentError[] {
  const list = Array.isArray(body.errors) ? body.errors : [];
  return list.filter(isRecord).map((e) => ({ document: typeof e.document === 'number' ? e.document : -1, path: text(e.path) ?? '(root)', message: text(e.message) ?? '' }));
}

/** Which service a client talks to, for messages that say what to check. */
export interface ServiceTarget {
  name: 'decision' | 'auditor';
  /** The flag and variable that choose its URL. */
  urlSource: string;
}

export const DECISION_TARGET: ServiceTarget = { name: 'decision', urlSource: '--url (or AUTOHEAL_DECISION_URL)' };
export const AUDITOR_TARGET: ServiceTarget = { name: 'auditor', urlSource: '--auditor-url (or AUTOHEAL_AUDITOR_URL)' };

/**
 * What an API answer means: the body for a 2xx, else a CliError whose code says what to do
 * about it. `body` is undefined when the answer was not JSON (then the URL likely names something
 * else). The APIs' own refusals carry a `code`; a 404 without one is Nest's "no such route".
 */
export function interpretResponse(status: number, body: unknown, target: string, service: ServiceTarget = DECISION_TARGET): unknown {
  if (status >= 200 && status < 300 && body !== undefined) return body;
  if (!isRecord(body)) {
    throw new CliError(CliErrorCode.UnexpectedResponse, `${target} answered HTTP ${status} without the API's JSON; is ${service.urlSource} the ${service.name} service?`);
  }
  const code = text(body.code);
  const message = text(body.message) ?? `HTTP ${status}`;
  switch (status) {
    case 401:
      return fail(
        CliErrorCode.Unauthorized,
        code === 'missing_credential' || code === 'missing_api_key'
          ? `the ${service.name} service wants a credential: set AUTOHEAL_ADMIN_KEY to your API key (or an OIDC token)`
          : `the ${service.name} service refused the credential (${code ?? 'unauthorized'}): AUTOHEAL_ADMIN_KEY must be a valid API key or OIDC token (not revoked, not expired)`,
      );
    case 403:
      return fail(CliErrorCode.Forbidden, `your credential may not do this (${code ?? 'forbidden'}): ${message}`);
    case 422:
      throw new CliError(CliErrorCode.InvalidDocuments, message, { documentErrors: documentErrors(body) });
    case 400: {
      const fields = Array.isArray(body.fields) ? body.fields.filter(isRecord).map((f) => `${String(f.field)}: ${Array.isArray(f.messages) ? f.messages.join('; ') : ''}`) : [];
      throw new CliError(CliErrorCode.BadRequest, `the ${service.name} service refused the request: ${message}`, { lines: fields });
    }
    case 404:
      if (code) return fail(CliErrorCode.NotFound, message);
      return fail(CliErrorCode.UnexpectedResponse, `${target} has no such route (${message}); is ${service.urlSource} the ${service.name} service, and is it as new as this CLI?`);
    case 409:
      return fail(CliErrorCode.Conflict, message);
    case 429:
      return fail(CliErrorCode.Forbidden, `the ${service.name} service refused: ${message}${code ? ` (${code})` : ''}; try again later`);
    default:
      break;
  }
  return fail(CliErrorCode.UnexpectedResponse, `${target} answered HTTP ${status}: ${message}${code ? ` (${code})` : ''}`);
}

function fail(code: CliErrorCode, message: string): never {
  throw new CliError(code, message);
}

/** Why fetch threw, said so that the operator knows what to check. */
export function unreachableError(error: unknown, url: string, timeoutMs: number, service: ServiceTarget = DECISION_TARGET): CliError {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return new CliError(CliErrorCode.Unreachable, `the ${service.name} service at ${url} did not answer within ${timeoutMs / 1000}s`);
  }
  const why = e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
  return new CliError(CliErrorCode.Unreachable, `cannot reach the ${service.name} service at ${url} (${why}); is it running, and does ${service.urlSource} point at it?`);
}

/** One JSON request to a service's API with the bearer credential; a CliError says what went wrong. */
export async function requestJson<T>(connection: Connection, service: ServiceTarget, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = TIMEOUT_MS): Promise<T> {
  const target = connection.url;
  let response: Response;
  try {
    response = await fetch(`${target}${path}`, {
      method,
      headers: { authorization: `Bearer ${connection.key}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw unreachableError(error, target, timeoutMs, service);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await response.text());
  } catch {
    parsed = undefined;
  }
  return interpretResponse(response.status, parsed, target, service) as T;
}

