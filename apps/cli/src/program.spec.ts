import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { run } from './program.js';

const RID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
const KEY = 'ak_0123456789abcdef';

interface Seen {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
}

/**
 * What the CLI sends for a command line: a local HTTP server stands for both services and records
 * each request, answering `answer` (the services themselves are exercised in test/cli).
 */
describe('autoheal (commander program): what each command line sends, and what it refuses', () => {
  let server: Server;
  let url: string;
  let seen: Seen[];
  let answer: { status: number; body: unknown };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization, body: raw ? JSON.parse(raw) : undefined });
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    seen = [];
    answer = { status: 200, body: { items: [], next: null, nextCursor: null } };
  });

  async function cli(argv: string[], env: Record<string, string> = { AUTOHEAL_ADMIN_KEY: 'k', AUTOHEAL_DECISION_URL: url, AUTOHEAL_AUDITOR_URL: url }) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l), now: () => new Date('2026-06-30T00:00:00Z') });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it.each<[string[], Omit<Seen, 'authorization'>]>([
    [['tenants', 'list'], { method: 'GET', path: '/v1/admin/tenants', body: undefined }],
    [['tenants', 'versions', 'acme', '--limit', '5'], { method: 'GET', path: '/v1/admin/tenants/acme/versions?limit=5', body: undefined }],
    [['tenants', 'versions', 'acme'], { method: 'GET', path: '/v1/admin/tenants/acme/versions?limit=20', body: undefined }],
    [['tenants', 'diff', 'acme', '--from', 'sha256:aa', '--to', 'sha256:bb'], { method: 'GET', path: '/v1/admin/tenants/acme/diff?from=sha256%3Aaa&to=sha256%3Abb', body: undefined }],
    [['approvals', 'approve', RID, '--reason', 'runbook says so'], { method: 'POST', path: `/v1/admin/remediations/${RID}:approve`, body: { reason: 'runbook says so' } }],
    [['approvals', 'reject', RID, '--reason', 'not now'], { method: 'POST', path: `/v1/admin/remediations/${RID}:reject`, body: { reason: 'not now' } }],
    [['approvals', 'list', 'acme', '--limit', '10'], { method: 'GET', path: '/v1/tenants/acme/approvals/pending?limit=10', body: undefined }],
    [['breaker', 'status'], { method: 'GET', path: '/v1/admin/breaker', body: undefined }],
    [['breaker', 'resume', '--reason', 'network fixed'], { method: 'POST', path: '/v1/admin/breaker:resume', body: { reason: 'network fixed' } }],
    [['breaker', 'resume', '--tenant', 'acme', '--reason', 'storm over'], { method: 'POST', path: '/v1/admin/breaker/tenants/acme:resume', body: { reason: 'storm over' } }],
    [
      ['api-keys', 'create', '--subject', 'bob@example.com', '--roles', 'approver,viewer', '--tenants', 'globex,acme', '--expires', '2027-01-01T00:00:00+01:00', '--label', 'laptop'],
      { method: 'POST', path: '/v1/api-keys', body: { subject: 'bob@example.com', roles: ['approver', 'viewer'], tenantScope: ['acme', 'globex'], expiresAt: '2026-12-31T23:00:00.000Z', label: 'laptop' } },
    ],
    [['api-keys', 'list', '--limit', '10', '--after', KEY], { method: 'GET', path: `/v1/api-keys?limit=10&after=${KEY}`, body: undefined }],
    [['api-keys', 'revoke', KEY], { method: 'POST', path: `/v1/api-keys/${KEY}:revoke`, body: {} }],
    [['api-keys', 'expire', KEY, '--at', '2027-01-01T00:00:00Z'], { method: 'POST', path: `/v1/api-keys/${KEY}:expire`, body: { at: '2027-01-01T00:00:00.000Z' } }],
    [['audit', 'list', 'acme', '--type', 'incident.opened', '--from', '2026-01-01T00:00:00Z'], { method: 'GET', path: '/v1/tenants/acme/audit?type=incident.opened&from=2026-01-01T00%3A00%3A00.000Z', body: undefined }],
    [['audit', 'verify', 'acme', '--full'], { method: 'GET', path: '/v1/tenants/acme/audit/verify?full=true', body: undefined }],
    [['incidents', 'list', 'acme', '--status', 'open', '--service', 'billing'], { method: 'GET', path: '/v1/tenants/acme/incidents?status=open&service=billing', body: undefined }],
    [['remediations', 'list', 'acme', '--action', 'restart'], { method: 'GET', path: '/v1/tenants/acme/remediations?action=restart', body: undefined }],
  ])('%j', async (argv, request) => {
    if (argv[1] === 'verify') answer = { status: 200, body: { tenantId: 'acme', ok: true, checkedRows: 0, headSeq: 0, headHash: '0'.repeat(64), firstBreak: null, fromSeq: 0, full: true, checkpointedSeq: 0, latestCheckpointSeq: null, externalCheckpoints: 'consulted' } };
    if (argv[1] === 'diff') answer = { status: 200, body: { from: 'sha256:aa', to: 'sha256:bb', changes: [] } };
    if (argv[0] === 'breaker') answer = { status: 200, body: { open: false, reason: null, openedAt: null, resumedAt: null, resumedBy: null, resumed: false, tenants: [] } };
    if (argv[0] === 'approvals' && argv[1] !== 'list') answer = { status: 200, body: { remediationId: RID, incidentId: RID, status: 'approved', action: 'restart', reason: 'r' } };
    if (argv[0] === 'api-keys' && argv[1] !== 'list') answer = { status: 200, body: { id: KEY, subject: 's', roles: ['viewer'], tenantScope: '*', label: '', origin: 'api', createdBy: 'x', createdAt: '', expiresAt: null, revokedAt: null, key: 'secret' } };
    const result = await cli(argv);
    expect(result).toMatchObject({ code: 0, err: '' });
    expect(seen).toEqual([{ ...request, authorization: 'Bearer k' }]);
  });

  it('prints the service’s answer as JSON with --json, before or after the command', async () => {
    answer = { status: 200, body: { items: [{ tenantId: 'acme', version: 'sha256:aa', appliedBy: 'alice', updatedAt: '2026-01-01T00:00:00.000Z' }] } };
    for (const argv of [['--json', 'tenants', 'list'], ['tenants', 'list', '--json']]) {
      const result = await cli(argv);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.out)).toEqual(answer.body);
    }
    expect((await cli(['tenants', 'list'])).out).toMatch(/^TENANT +VERSION +APPLIED BY/);
  });

  it('exits 1 when the service refuses, naming why', async () => {
    answer = { status: 403, body: { code: 'forbidden', message: 'acme is not in your scope' } };
    const result = await cli(['tenants', 'versions', 'acme']);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/your credential may not do this \(forbidden\): acme is not in your scope/);
  });

  it('exits 1 when the auditor finds the chain broken, and prints the break', async () => {
    answer = {
      status: 200,
      body: { tenantId: 'acme', ok: false, checkedRows: 3, headSeq: 3, headHash: 'h', firstBreak: { seq: 2, lastSeq: null, reason: 'hash_mismatch', expectedHash: 'a', actualHash: 'b', detail: 'row 2 changed' }, fromSeq: 0, full: true, checkpointedSeq: 0, latestCheckpointSeq: null, externalCheckpoints: 'consulted' },
    };
    const result = await cli(['audit', 'verify', 'acme']);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/^NOT INTACT[\s\S]*first break: hash_mismatch at seq 2: row 2 changed/);
  });

  it('exits 3 when nothing answers', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await cli(['breaker', 'status', '--url', `http://127.0.0.1:${port}`]);
    expect(result.code).toBe(3);
    expect(result.err).toMatch(/cannot reach the decision service at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });

  it.each<[string, string[], RegExp]>([
    ['an unknown command', ['deploy'], /unknown command 'deploy'/],
    ['an unknown subcommand', ['tenants', 'delete', 'acme'], /unknown command 'delete'/],
    ['apply without -f', ['tenants', 'apply'], /required option '-f, --file <file\|dir>' not specified/],
    ['a stray word', ['tenants', 'list', 'extra'], /too many arguments/],
    ['an option the command does not take', ['tenants', 'apply', '-f', 'x', '--reason', 'r'], /unknown option '--reason'/],
    ['--who (the actor is the credential’s)', ['approvals', 'approve', RID, '--who', 'ceo', '--reason', 'r'], /unknown option '--who'/],
    ['an unknown role', ['api-keys', 'create', '--subject', 's', '--roles', 'root', '--tenants', '*'], /unknown role root/],
    ['a bad tenant scope', ['api-keys', 'create', '--subject', 's', '--roles', 'viewer', '--tenants', 'a.b'], /--tenants/],
    ['create without roles', ['api-keys', 'create', '--subject', 's', '--tenants', '*'], /required option '--roles <r,…>' not specified/],
    ['a time without a zone', ['api-keys', 'create', '--subject', 's', '--roles', 'viewer', '--tenants', '*', '--expires', '2027-01-01T00:00'], /--expires must be an RFC 3339 time/],
    ['revoke of something else than a key id', ['api-keys', 'revoke', 'bob'], /"bob" is not a key id/],
    ['an option without its value', ['tenants', 'diff', 'acme', '--from'], /option '--from <version>' argument missing/],
    ['a tenant id with a dot', ['tenants', 'versions', 'a.b'], /"a.b" is not a tenant id/],
    ['--limit out of range', ['tenants', 'versions', 'acme', '--limit', '500'], /--limit must be a whole number from 1 to 100/],
    ['--days not a number', ['tenants', 'backtest', '-f', 'x', '--days', 'week'], /--days must be a whole number/],
    ['approve with a blank reason', ['approvals', 'approve', RID, '--reason', ' '], /--reason is empty/],
    ['approve with something else than a UUID', ['approvals', 'approve', '42', '--reason', 'r'], /"42" is not a remediation id/],
    ['resume without a reason', ['breaker', 'resume'], /required option '--reason <text>' not specified/],
    ['an incident id that is no UUID', ['incidents', 'show', 'acme', 'x'], /"x" is not an incident id/],
    ['a chaos verb without its instance', ['demo', 'kill', 'acme', 'api'], /missing required argument 'instance'/],
  ])('refuses %s with exit 2 and sends nothing', async (_name, argv, message) => {
    const result = await cli(argv);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(seen).toEqual([]);
  });

  it('refuses to run without a credential (exit 2, nothing sent)', async () => {
    const result = await cli(['tenants', 'list'], { AUTOHEAL_DECISION_URL: url });
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/no credential: set AUTOHEAL_ADMIN_KEY/);
    expect(seen).toEqual([]);
  });

  it('prints help for the program and every command, exit 0', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    for (const command of ['tenants', 'approvals', 'breaker', 'api-keys', 'audit', 'incidents', 'remediations', 'producers', 'demo']) expect(top.out).toContain(command);
    expect(top.out).toMatch(/Exit status:[\s\S]*3 +unreachable/);
    const sub = await cli(['audit', 'export', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.out).toMatch(/Usage: autoheal audit export \[options\] <tenant>/);
  });
});
