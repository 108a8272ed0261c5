import { connectionFrom, DEFAULT_DECISION_URL, parseCommand, type Command } from './cli-arguments.js';
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
    ['apply with a directory', ['apply', '-f', 'tenants/'], { kind: 'apply', path: 'tenants/', changedBy: 'alice (autoheal cli)' }],
    ['apply with --changed-by', ['apply', '--file', 't.yaml', '--changed-by', 'ci@example.com'], { kind: 'apply', path: 't.yaml', changedBy: 'ci@example.com' }],
    ['tenants list', ['tenants', 'list'], { kind: 'tenants_list' }],
    ['tenants versions', ['tenants', 'versions', 'acme', '--limit', '5'], { kind: 'tenants_versions', tenantId: 'acme', limit: 5 }],
    ['tenants versions, default limit', ['tenants', 'versions', 'acme'], { kind: 'tenants_versions', tenantId: 'acme', limit: 20 }],
    ['tenants diff to the current version', ['tenants', 'diff', 'acme', '--from', 'sha256:aa'], { kind: 'tenants_diff', tenantId: 'acme', from: 'sha256:aa' }],
    ['tenants diff between two versions', ['tenants', 'diff', 'acme', '--from', 'sha256:aa', '--to', 'sha256:bb'], { kind: 'tenants_diff', tenantId: 'acme', from: 'sha256:aa', to: 'sha256:bb' }],
    ['policy backtest', ['policy', 'backtest', '-f', 'c.yaml'], { kind: 'backtest', path: 'c.yaml', all: false }],
    ['policy backtest, every option', ['policy', 'backtest', '-f', 'dir', '--tenant', 'acme', '--days', '7', '--all'], { kind: 'backtest', path: 'dir', tenantId: 'acme', days: 7, all: true }],
    ['approve', ['approve', RID, '--who', 'bob', '--reason', 'runbook says so'], { kind: 'review', verdict: 'approve', remediationId: RID, who: 'bob', reason: 'runbook says so' }],
    ['reject', ['reject', RID, '--who', 'bob', '--reason', 'not now'], { kind: 'review', verdict: 'reject', remediationId: RID, who: 'bob', reason: 'not now' }],
    ['breaker status', ['breaker', 'status'], { kind: 'breaker_status' }],
    ['breaker resume', ['breaker', 'resume', '--who', 'carol', '--reason', 'network fixed'], { kind: 'breaker_resume', who: 'carol', reason: 'network fixed' }],
    ['help', ['help'], { kind: 'help' }],
    ['--help anywhere', ['apply', '--help'], { kind: 'help' }],
  ])('%s', (_name, argv, command) => {
    expect(parseCommand(argv, ENV).command).toEqual(command);
  });

  it('takes --url and --json with any command', () => {
    expect(parseCommand(['breaker', 'status', '--url', 'http://d:3002', '--json'], ENV)).toEqual({ command: { kind: 'breaker_status' }, url: 'http://d:3002', json: true });
  });

  it('records an apply as "autoheal cli" when the user is unknown', () => {
    expect(parseCommand(['apply', '-f', 'x'], {}).command).toMatchObject({ changedBy: 'autoheal cli' });
  });

  it.each<[string, string[], RegExp]>([
    ['no command', [], /no command given/],
    ['unknown command', ['deploy'], /unknown command deploy/],
    ['unknown subcommand', ['tenants', 'delete', 'acme'], /unknown command tenants delete/],
    ['missing subcommand', ['breaker'], /breaker needs status or resume/],
    ['apply without -f', ['apply'], /apply needs --file/],
    ['apply with a stray word', ['apply', '-f', 'x', 'extra'], /apply does not take "extra"/],
    ['an option the command does not take', ['apply', '-f', 'x', '--who', 'bob'], /apply does not take --who/],
    ['an unknown option', ['tenants', 'list', '--verbose'], /unknown option --verbose/],
    ['an option without its value', ['tenants', 'diff', 'acme', '--from'], /--from/],
    ['diff without --from', ['tenants', 'diff', 'acme'], /tenants diff needs --from/],
    ['diff without a tenant', ['tenants', 'diff', '--from', 'v'], /tenants diff needs <tenant>/],
    ['a tenant id with a dot', ['tenants', 'versions', 'a.b'], /"a.b" is not a tenant id/],
    ['--limit out of range', ['tenants', 'versions', 'acme', '--limit', '500'], /--limit must be a whole number from 1 to 100/],
    ['--days not a number', ['policy', 'backtest', '-f', 'x', '--days', 'week'], /--days must be a whole number/],
    ['approve without a reason', ['approve', RID, '--who', 'bob'], /approve needs --reason/],
    ['approve with a blank who', ['approve', RID, '--who', ' ', '--reason', 'r'], /approve needs --who/],
    ['approve with something else than a UUID', ['approve', '42', '--who', 'bob', '--reason', 'r'], /"42" is not a remediation id/],
    ['resume without who', ['breaker', 'resume', '--reason', 'fixed'], /breaker resume needs --who/],
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
