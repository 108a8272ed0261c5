import { interpretResponse, unreachableError } from './http.js';
import { CliError, CliErrorCode } from './cli.errors.js';

const BASE = 'http://127.0.0.1:3002';

function errorOf(work: () => unknown): CliError {
  try {
    work();
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
  throw new Error('expected a CliError');
}

describe('interpretResponse', () => {
  it('returns the body of a 2xx answer', () => {
    expect(interpretResponse(200, { items: [] }, BASE)).toEqual({ items: [] });
  });

  it.each<[string, number, unknown, CliErrorCode, RegExp]>([
    ['a wrong key', 401, { code: 'invalid_credential', message: 'unknown' }, CliErrorCode.Unauthorized, /refused the credential \(invalid_credential\).*AUTOHEAL_ADMIN_KEY/],
    ['no key', 401, { code: 'missing_credential', message: 'required' }, CliErrorCode.Unauthorized, /wants a credential/],
    ['a role that may not', 403, { code: 'role_forbidden', message: "this credential's roles do not allow this" }, CliErrorCode.Forbidden, /may not do this \(role_forbidden\)/],
    ['an unknown tenant', 404, { code: 'tenant_not_found', message: 'tenant x has no document' }, CliErrorCode.NotFound, /^tenant x has no document$/],
    ['a route that is not there (another service)', 404, { statusCode: 404, message: 'Cannot GET /v1/admin/breaker' }, CliErrorCode.UnexpectedResponse, /no such route/],
    ['an approval already settled', 409, { code: 'remediation_not_awaiting_approval', message: 'is approved' }, CliErrorCode.Conflict, /is approved/],
    ['a server error', 500, { statusCode: 500, message: 'Internal server error' }, CliErrorCode.UnexpectedResponse, /HTTP 500: Internal server error/],
    ['HTML instead of JSON', 200, undefined, CliErrorCode.UnexpectedResponse, /without the API's JSON/],
  ])('maps %s', (_name, status, body, code, message) => {
    const error = errorOf(() => interpretResponse(status, body, BASE));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('keeps every document error of a 422', () => {
    const body = {
      code: 'tenant_documents_invalid',
      message: 'tenant documents are invalid; nothing was applied',
      errors: [
        { document: 0, path: 'frameworks.0', message: 'bad framework' },
        { document: 2, path: '(root)', message: 'not YAML' },
      ],
    };
    const error = errorOf(() => interpretResponse(422, body, BASE));
    expect(error.code).toBe(CliErrorCode.InvalidDocuments);
    expect(error.details.documentErrors).toEqual(body.errors);
  });

  it('names every refused field of a 400', () => {
    const error = errorOf(() => interpretResponse(400, { code: 'invalid_request', message: 'reason must be a string', fields: [{ field: 'reason', messages: ['reason must be a string'] }] }, BASE));
    expect(error.code).toBe(CliErrorCode.BadRequest);
    expect(error.details.lines).toEqual(['reason: reason must be a string']);
  });
});

describe('unreachableError', () => {
  it('names the refused connection', () => {
    const fetchError = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    const error = unreachableError(fetchError, BASE, 30_000);
    expect(error.code).toBe(CliErrorCode.Unreachable);
    expect(error.message).toBe(`cannot reach the decision service at ${BASE} (ECONNREFUSED); is it running, and does --url (or AUTOHEAL_DECISION_URL) point at it?`);
  });

  it('says how long it waited', () => {
    const timeout = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
    expect(unreachableError(timeout, BASE, 30_000).message).toBe(`the decision service at ${BASE} did not answer within 30s`);
  });
});
