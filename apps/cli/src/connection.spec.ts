import { CliError, CliErrorCode, exitCodeFor } from './cli.errors.js';
import { auditorConnectionFrom, connectionFrom, DEFAULT_AUDITOR_URL, DEFAULT_DECISION_URL } from './connection.js';

function errorOf(work: () => unknown): CliError {
  try {
    work();
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
  throw new Error('expected a CliError');
}

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
