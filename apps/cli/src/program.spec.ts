import { auditorConnectionFrom, connectionFrom, DEFAULT_AUDITOR_URL, DEFAULT_DECISION_URL, parseCommand, type Command } from './cli-arguments.js';
import { CliError, CliErrorCode, exitCodeFor } from './cli.errors.js';

const ENV = { USER: 'alice' };
const RID = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';

function errorOf(work: () => unknown): CliError {
  try {
    work();
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
  throw new Error('expected a CliError');
}

describe('parseCommand', () => {
  it.each<[string, string[], Command]>([
    ['apply with a directory', ['apply', '-f', 'tenants/'], { kind: 'apply', path: 'tenants/' }],
    ['tenants list', ['tenants', 'list'], { kind: 'tenants_list' }],
    ['tenants versions', ['tenants', 'versions', 'acme', '--limit', '5'], { kind: 'tenants_versions', tenantId: 'acme', limit: 5 }],
    ['tenants versions, default limit', ['tenants', 'versions', 'acme'], { kind: 'tenants_versions', tenantId: 'acme', limit: 20 }],
    ['tenants diff to the current version', ['tenants', 'diff', 'acme', '--from', 'sha256:aa'], { kind: 'tenants_diff', tenantId: 'acme', from: 'sha256:aa' }],
    ['tenants diff between two versions', ['tenants', 'diff', 'acme', '--from', 'sha256:aa', '--to', 'sha256:bb'], { kind: 'tenants_diff', tenantId: 'acme', from: 'sha256:aa', to: 'sha256:bb' }],
    ['policy backtest', ['policy', 'backtest', '-f', 'c.yaml'], { kind: 'backtest', path: 'c.yaml', all: false }],
    ['policy backtest, every option', ['policy', 'backtest', '-f', 'dir', '--tenant', 'acme', '--days', '7', '--all'], { kind: 'backtest', path: 'dir', tenantId: 'acme', days: 7, all: true }],
    ['approve', ['approve', RID, '--reason', 'runbook says so'], { kind: 'review', verdict: 'approve', remediationId: RID, reason: 'runbook says so' }],
    ['reject', ['reject', RID, '--reason', 'not now'], { kind: 'review', verdict: 'reject', remediationId: RID, reason: 'not now' }],
    ['breaker status', ['breaker', 'status'], { kind: 'breaker_status' }],
    ['breaker resume', ['breaker', 'resume', '--reason', 'network fixed'], { kind: 'breaker_resume', reason: 'network fixed' }],
    ["a tenant's breaker resume", ['breaker', 'resume', '--tenant', 'acme', '--reason', 'storm over'], { kind: 'breaker_resume', reason: 'storm over', tenantId: 'acme' }],
    [
      'api-keys create',
      ['api-keys', 'create', '--subject', 'bob@example.com', '--roles', 'approver,viewer', '--tenants', 'globex,acme', '--expires', '2027-01-01T00:00:00+01:00', '--label', 'laptop'],
      { kind: 'api_keys_create', subject: 'bob@example.com', roles: ['approver', 'viewer'], tenantScope: ['acme', 'globex'], expiresAt: '2026-12-31T23:00:00.000Z', label: 'laptop' },
    ],
    ['api-keys create over every tenant', ['api-keys', 'create', '--subject', 's', '--roles', 'admin', '--tenants', '*'], { kind: 'api_keys_create', subject: 's', roles: ['admin'], tenantScope: '*' }],
    ['api-keys list', ['api-keys', 'list', '--limit', '10', '--after', 'ak_0123456789abcdef'], { kind: 'api_keys_list', limit: 10, after: 'ak_0123456789abcdef' }],
    ['api-keys revoke', ['api-keys', 'revoke', 'ak_0123456789abcdef'], { kind: 'api_keys_revoke', id: 'ak_0123456789abcdef' }],
    ['api-keys expire', ['api-keys', 'expire', 'ak_0123456789abcdef', '--at', '2027-01-01T00:00:00Z'], { kind: 'api_keys_expire', id: 'ak_0123456789abcdef', at: '2027-01-01T00:00:00.000Z' }],
    ['help', ['help'], { kind: 'help' }],
    ['--help anywhere', ['apply', '--help'], { kind: 'help' }],
  ])('%s', (_name, argv, command) => {
    expect(parseCommand(argv, ENV).command).toEqual(command);
  });

  it('takes --url and --json with any command', () => {
    expect(parseCommand(['breaker', 'status', '--url', 'http://d:3002', '--json'], ENV)).toEqual({ command: { kind: 'breaker_status' }, url: 'http://d:3002', json: true });
  });

  it('takes --auditor-url for api-keys', () => {
    expect(parseCommand(['api-keys', 'list', '--auditor-url', 'http://a:3000'], ENV)).toMatchObject({ auditorUrl: 'http://a:3000' });
  });

  it.each<[string, string[], RegExp]>([
    ['no command', [], /no command given/],
    ['unknown command', ['deploy'], /unknown command deploy/],
    ['unknown subcommand', ['tenants', 'delete', 'acme'], /unknown command tenants delete/],
    ['missing subcommand', ['breaker'], /breaker needs status or resume/],
    ['apply without -f', ['apply'], /apply needs --file/],
    ['apply with a stray word', ['apply', '-f', 'x', 'extra'], /apply does not take "extra"/],
    ['an option the command does not take', ['apply', '-f', 'x', '--reason', 'r'], /apply does not take --reason/],
    ['--who, anywhere', ['approve', RID, '--who', 'ceo', '--reason', 'r'], /--who is no longer accepted: what you do is recorded under your credential/],
    ['--changed-by', ['apply', '-f', 'x', '--changed-by', 'ceo'], /--changed-by is no longer accepted/],
    ['api-keys create with an unknown role', ['api-keys', 'create', '--subject', 's', '--roles', 'root', '--tenants', '*'], /unknown role root/],
    ['api-keys create with a bad tenant', ['api-keys', 'create', '--subject', 's', '--roles', 'viewer', '--tenants', 'a.b'], /--tenants/],
    ['api-keys create without roles', ['api-keys', 'create', '--subject', 's', '--tenants', '*'], /api-keys create needs --roles/],
    ['api-keys create with a time without zone', ['api-keys', 'create', '--subject', 's', '--roles', 'viewer', '--tenants', '*', '--expires', '2027-01-01T00:00'], /--expires must be an RFC 3339 time/],
    ['api-keys revoke of something else than a key id', ['api-keys', 'revoke', 'bob'], /"bob" is not a key id/],
    ['api-keys without a verb', ['api-keys'], /api-keys needs create, list, revoke or expire/],
    ['an unknown option', ['tenants', 'list', '--verbose'], /unknown option --verbose/],
    ['an option without its value', ['tenants', 'diff', 'acme', '--from'], /--from/],
    ['diff without --from', ['tenants', 'diff', 'acme'], /tenants diff needs --from/],
    ['diff without a tenant', ['tenants', 'diff', '--from', 'v'], /tenants diff needs <tenant>/],
    ['a tenant id with a dot', ['tenants', 'versions', 'a.b'], /"a.b" is not a tenant id/],
    ['--limit out of range', ['tenants', 'versions', 'acme', '--limit', '500'], /--limit must be a whole number from 1 to 100/],
    ['--days not a number', ['policy', 'backtest', '-f', 'x', '--days', 'week'], /--days must be a whole number/],
    ['approve without a reason', ['approve', RID], /approve needs --reason/],
    ['approve with a blank reason', ['approve', RID, '--reason', ' '], /approve needs --reason/],
    ['approve with something else than a UUID', ['approve', '42', '--reason', 'r'], /"42" is not a remediation id/],
    ['resume without a reason', ['breaker', 'resume'], /breaker resume needs --reason/],
    ['resume of a tenant that is no tenant id', ['breaker', 'resume', '--tenant', 'a.b', '--reason', 'r'], /tenant/],
  ])('refuses %s (exit 2)', (_name, argv, message) => {
    const error = errorOf(() => parseCommand(argv, ENV));
    expect(error.code).toBe(CliErrorCode.Usage);
    expect(error.message).toMatch(message);
    expect(exitCodeFor(error.code)).toBe(2);
  });
});

describe('connectionFrom', () => {
  it.each<[string, string | undefined, Record<string, string>, { url: string; key: string }]>([
    ['defaults', undefined, { AUTOHEAL_ADMIN_KEY: 'k' }, { url: DEFAULT_DECISION_URL, key: 'k' }],
    ['the environment', undefined, { AUTOHEAL_DECISION_URL: 'https://decision.example/', DECISION_ADMIN_API_KEY: 'd' }, { url: 'https://decision.example', key: 'd' }],
    ['--url over the environment', 'http://other:9', { AUTOHEAL_DECISION_URL: 'http://env:1', AUTOHEAL_ADMIN_KEY: 'k' }, { url: 'http://other:9', key: 'k' }],
    ['AUTOHEAL_ADMIN_KEY over DECISION_ADMIN_API_KEY', undefined, { AUTOHEAL_ADMIN_KEY: 'a', DECISION_ADMIN_API_KEY: 'd' }, { url: DEFAULT_DECISION_URL, key: 'a' }],
  ])('%s', (_name, flag, env, expected) => {
    expect(connectionFrom(flag, env)).toEqual(expected);
  });

  it('refuses to run without a key (exit 2, no request sent)', () => {
    const error = errorOf(() => connectionFrom(undefined, { AUTOHEAL_ADMIN_KEY: '' }));
    expect(error.code).toBe(CliErrorCode.NoKey);
    expect(error.message).toMatch(/AUTOHEAL_ADMIN_KEY/);
    expect(exitCodeFor(error.code)).toBe(2);
  });

  it.each(['not a url', 'ftp://decision:21'])('refuses --url %s', (url) => {
    expect(errorOf(() => connectionFrom(url, { AUTOHEAL_ADMIN_KEY: 'k' })).code).toBe(CliErrorCode.Usage);
  });
});

describe('auditorConnectionFrom', () => {
  it.each<[string, string | undefined, Record<string, string>, { url: string; key: string }]>([
    ['defaults', undefined, { AUTOHEAL_ADMIN_KEY: 'k' }, { url: DEFAULT_AUDITOR_URL, key: 'k' }],
    ['the bootstrap key', undefined, { AUTOHEAL_AUDITOR_URL: 'https://auditor.example/', AUDITOR_OPS_API_KEY: 'o' }, { url: 'https://auditor.example', key: 'o' }],
    ['AUTOHEAL_ADMIN_KEY over AUDITOR_OPS_API_KEY', 'http://a:1', { AUTOHEAL_ADMIN_KEY: 'a', AUDITOR_OPS_API_KEY: 'o' }, { url: 'http://a:1', key: 'a' }],
  ])('%s', (_name, flag, env, expected) => {
    expect(auditorConnectionFrom(flag, env)).toEqual(expected);
  });

  it('refuses to run without a credential', () => {
    expect(errorOf(() => auditorConnectionFrom(undefined, { DECISION_ADMIN_API_KEY: 'd' })).code).toBe(CliErrorCode.NoKey);
  });
});
