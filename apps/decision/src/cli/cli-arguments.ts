import { parseArgs } from 'node:util';
import { parseTenantScope, ROLES, isRole, type Role } from '@autoheal/access';
import { SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';
import { CliError, CliErrorCode } from './cli.errors.js';

export const DEFAULT_DECISION_URL = 'http://127.0.0.1:3002';
export const DEFAULT_AUDITOR_URL = 'http://127.0.0.1:3000';

export const USAGE = `usage: autoheal <command> [--url <url>] [--json]

  apply -f <file|dir>
        apply tenant documents (.yaml, .yml, .json), all or nothing
  tenants list
        every tenant with its current version
  tenants versions <tenant> [--limit <n>]
        a tenant's versions, newest first (n ≤ 100, default 20)
  tenants diff <tenant> --from <version> [--to <version>]
        what changed between two versions (--to defaults to the current one)
  policy backtest -f <file|dir> [--tenant <tenant>] [--days <n>] [--all]
        replay the tenant's past decisions against a candidate document; changes nothing
        (--tenant picks the document when -f holds several; --all also lists unchanged decisions)
  approve <remediationId> --reason <text>
  reject <remediationId> --reason <text>
        settle a remediation that awaits approval
  breaker status
        the global circuit breaker and the tenant breakers in your credential's scope
  breaker resume --reason <text> [--tenant <tenant>]
        close the global breaker (or, with --tenant, that tenant's): automatic actions resume
  api-keys create --subject <person> --roles <r,…> --tenants <'*'|t1,t2> [--expires <time>] [--label <text>]
        a personal API key (roles: ${ROLES.join(', ')}); the key is printed once
  api-keys list [--limit <n>] [--after <keyId>]
  api-keys revoke <keyId>
  api-keys expire <keyId> [--at <time>]
        people's API keys, at the auditor (admin over every tenant)
  audit export --tenant <tenant> --out <dir> [--from <time>] [--to <time>]
  audit verify-bundle <dir> [--trusted-keys <file>]
        export a tenant's audit trail as a bundle; check one offline (autoheal audit help)
  report --tenant <tenant> --from <time> --to <time> [--format json|csv|html] [--out <file>]
  report verify <file> --trusted-keys <file>
        a tenant's signed compliance report; check a saved one offline (autoheal report help)
  producers create <tenant> [--out <seed file>] [--nats-dir <dir>]
        a tenant producer's NATS credentials (local files; see autoheal producers help)

  --url <url>          the decision service (else AUTOHEAL_DECISION_URL, else ${DEFAULT_DECISION_URL})
  --auditor-url <url>  the auditor, for api-keys (else AUTOHEAL_AUDITOR_URL, else ${DEFAULT_AUDITOR_URL})
  --json               print the service's answer as JSON
The credential (your API key or an OIDC token) is read from AUTOHEAL_ADMIN_KEY, else the
bootstrap key (DECISION_ADMIN_API_KEY; AUDITOR_OPS_API_KEY for api-keys). What you do is
recorded under the credential's person, never a name given on the command line.
Exit status: 0 done, 1 refused or failed, 2 bad arguments or no key.`;

export type Command =
  | { kind: 'help' }
  | { kind: 'apply'; path: string }
  | { kind: 'tenants_list' }
  | { kind: 'tenants_versions'; tenantId: string; limit: number }
  | { kind: 'tenants_diff'; tenantId: string; from: string; to?: string }
  | { kind: 'backtest'; path: string; tenantId?: string; days?: number; all: boolean }
  | { kind: 'review'; verdict: 'approve' | 'reject'; remediationId: string; reason: string }
  | { kind: 'breaker_status' }
  | { kind: 'breaker_resume'; reason: string; tenantId?: string }
  | { kind: 'api_keys_create'; subject: string; roles: Role[]; tenantScope: '*' | string[]; expiresAt?: string; label?: string }
  | { kind: 'api_keys_list'; limit: number; after?: string }
  | { kind: 'api_keys_revoke'; id: string }
  | { kind: 'api_keys_expire'; id: string; at?: string };

export interface ParsedCommand {
  command: Command;
  /** --url as given, if given. */
  url?: string;
  /** --auditor-url as given, if given. */
  auditorUrl?: string;
  json: boolean;
}

export interface Connection {
  /** Without a trailing slash. */
  url: string;
  key: string;
}

const OPTIONS = {
  file: { type: 'string', short: 'f' },
  'changed-by': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  limit: { type: 'string' },
  tenant: { type: 'string' },
  days: { type: 'string' },
  all: { type: 'boolean' },
  /** No longer accepted (the actor is the credential's); kept to say so. */
  who: { type: 'string' },
  reason: { type: 'string' },
  subject: { type: 'string' },
  roles: { type: 'string' },
  tenants: { type: 'string' },
  expires: { type: 'string' },
  label: { type: 'string' },
  at: { type: 'string' },
  after: { type: 'string' },
  url: { type: 'string' },
  'auditor-url': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type OptionName = keyof typeof OPTIONS;
type Values = { [K in OptionName]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

const GLOBAL: readonly OptionName[] = ['url', 'auditor-url', 'json', 'help'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function usage(message: string): CliError {
  return new CliError(CliErrorCode.Usage, message);
}

/** Options a command does not take are refused rather than ignored: `apply --who x` is a mistake. */
function onlyOptions(name: string, values: Values, allowed: readonly OptionName[]): void {
  const extra = (Object.keys(values) as OptionName[]).filter((k) => values[k] !== undefined && !allowed.includes(k) && !GLOBAL.includes(k));
  if (extra.length > 0) throw usage(`${name} does not take ${extra.map((k) => `--${k}`).join(', ')}`);
}

function positionals(name: string, rest: string[], expected: string[]): string[] {
  if (rest.length < expected.length) throw usage(`${name} needs ${expected.map((e) => `<${e}>`).join(' ')}`);
  if (rest.length > expected.length) throw usage(`${name} does not take ${rest.slice(expected.length).map((r) => JSON.stringify(r)).join(' ')}`);
  return rest;
}

function required(name: string, value: string | undefined, option: OptionName, max = 200): string {
  if (value === undefined || value.trim() === '') throw usage(`${name} needs --${option}`);
  if (value.length > max) throw usage(`--${option} is longer than ${max} characters`);
  return value;
}

function tenant(value: string): string {
  if (!SUBJECT_TOKEN_PATTERN.test(value)) throw usage(`${JSON.stringify(value)} is not a tenant id (1-64 characters of A-Z a-z 0-9 _ -)`);
  return value;
}

function integer(option: OptionName, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw usage(`--${option} must be a whole number from ${min} to ${max}`);
  return n;
}

function review(verdict: 'approve' | 'reject', rest: string[], values: Values): Command {
  onlyOptions(verdict, values, ['reason']);
  const [remediationId] = positionals(verdict, rest, ['remediationId']);
  if (!UUID.test(remediationId)) throw usage(`${JSON.stringify(remediationId)} is not a remediation id (a UUID)`);
  return { kind: 'review', verdict, remediationId, reason: required(verdict, values.reason, 'reason', 1000) };
}

const KEY_ID = /^ak_[0-9a-f]{16}$/;

function keyId(name: string, rest: string[]): string {
  const [id] = positionals(name, rest, ['keyId']);
  if (!KEY_ID.test(id)) throw usage(`${JSON.stringify(id)} is not a key id (ak_ and 16 hex digits)`);
  return id;
}

function instant(option: OptionName, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw usage(`--${option} must be an RFC 3339 time with a zone, e.g. 2026-12-31T23:59:00Z`);
  }
  return new Date(value).toISOString();
}

function apiKeys(rest: string[], values: Values): Command {
  const [sub, ...args] = rest;
  switch (sub) {
    case 'create': {
      onlyOptions('api-keys create', values, ['subject', 'roles', 'tenants', 'expires', 'label']);
      positionals('api-keys create', args, []);
      const roles = required('api-keys create', values.roles, 'roles').split(',').map((r) => r.trim());
      const unknown = roles.filter((r) => !isRole(r));
      if (unknown.length > 0) throw usage(`--roles: unknown role ${unknown.join(', ')} (roles: ${ROLES.join(', ')})`);
      const tenants = required('api-keys create', values.tenants, 'tenants', 100_000);
      const scope = parseTenantScope(tenants === '*' ? '*' : tenants.split(',').map((t) => t.trim()));
      if (!scope.ok) throw usage(`--tenants: ${scope.message.replace('tenantScope', "'*' or tenant ids separated by commas;")}`);
      const expiresAt = instant('expires', values.expires);
      return {
        kind: 'api_keys_create',
        subject: required('api-keys create', values.subject, 'subject'),
        roles: roles as Role[],
        tenantScope: scope.scope === '*' ? '*' : [...scope.scope],
        ...(expiresAt ? { expiresAt } : {}),
        ...(values.label !== undefined ? { label: required('api-keys create', values.label, 'label') } : {}),
      };
    }
    case 'list': {
      onlyOptions('api-keys list', values, ['limit', 'after']);
      positionals('api-keys list', args, []);
      if (values.after !== undefined && !KEY_ID.test(values.after)) throw usage('--after must be a key id (ak_ and 16 hex digits)');
      return { kind: 'api_keys_list', limit: integer('limit', values.limit, 1, 500) ?? 100, ...(values.after ? { after: values.after } : {}) };
    }
    case 'revoke':
      onlyOptions('api-keys revoke', values, []);
      return { kind: 'api_keys_revoke', id: keyId('api-keys revoke', args) };
    case 'expire': {
      onlyOptions('api-keys expire', values, ['at']);
      const at = instant('at', values.at);
      return { kind: 'api_keys_expire', id: keyId('api-keys expire', args), ...(at ? { at } : {}) };
    }
    default:
      throw usage(sub === undefined ? 'api-keys needs create, list, revoke or expire' : `unknown command api-keys ${sub}`);
  }
}

function parseValues(argv: readonly string[]): { values: Values; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    return { values: parsed.values, positionals: parsed.positionals };
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw usage(`unknown option ${/'([^']+)'/.exec(message)?.[1] ?? message}`);
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) throw usage(message);
    throw error;
  }
}

/** The command line as a command; a CliError (usage) names what is wrong. Reads nothing but its arguments. */
export function parseCommand(argv: readonly string[], _env: Record<string, string | undefined>): ParsedCommand {
  const { values, positionals: words } = parseValues(argv);
  const json = values.json ?? false;
  const url = values.url;
  const [group, ...after] = words;
  if (values.help || group === 'help') return { command: { kind: 'help' }, json, url };
  if (group === undefined) throw usage('no command given');
  // The actor is the credential's: a name on the command line would only mislead.
  for (const option of ['who', 'changed-by'] as const) {
    if (values[option] !== undefined) throw usage(`--${option} is no longer accepted: what you do is recorded under your credential's person (AUTOHEAL_ADMIN_KEY)`);
  }

  const command = ((): Command => {
    switch (group) {
      case 'apply': {
        onlyOptions('apply', values, ['file']);
        positionals('apply', after, []);
        return { kind: 'apply', path: required('apply', values.file, 'file', 4096) };
      }
      case 'tenants': {
        const [sub, ...rest] = after;
        switch (sub) {
          case 'list':
            onlyOptions('tenants list', values, []);
            positionals('tenants list', rest, []);
            return { kind: 'tenants_list' };
          case 'versions': {
            onlyOptions('tenants versions', values, ['limit']);
            const [tenantId] = positionals('tenants versions', rest, ['tenant']);
            return { kind: 'tenants_versions', tenantId: tenant(tenantId), limit: integer('limit', values.limit, 1, 100) ?? 20 };
          }
          case 'diff': {
            onlyOptions('tenants diff', values, ['from', 'to']);
            const [tenantId] = positionals('tenants diff', rest, ['tenant']);
            const from = required('tenants diff', values.from, 'from');
            return { kind: 'tenants_diff', tenantId: tenant(tenantId), from, ...(values.to !== undefined ? { to: required('tenants diff', values.to, 'to') } : {}) };
          }
          default:
            throw usage(sub === undefined ? 'tenants needs list, versions or diff' : `unknown command tenants ${sub}`);
        }
      }
      case 'policy': {
        const [sub, ...rest] = after;
        if (sub !== 'backtest') throw usage(sub === undefined ? 'policy needs backtest' : `unknown command policy ${sub}`);
        onlyOptions('policy backtest', values, ['file', 'tenant', 'days', 'all']);
        positionals('policy backtest', rest, []);
        const days = integer('days', values.days, 1, 3650);
        return {
          kind: 'backtest',
          path: required('policy backtest', values.file, 'file', 4096),
          all: values.all ?? false,
          ...(values.tenant !== undefined ? { tenantId: tenant(values.tenant) } : {}),
          ...(days !== undefined ? { days } : {}),
        };
      }
      case 'approve':
      case 'reject':
        return review(group, after, values);
      case 'breaker': {
        const [sub, ...rest] = after;
        switch (sub) {
          case 'status':
            onlyOptions('breaker status', values, []);
            positionals('breaker status', rest, []);
            return { kind: 'breaker_status' };
          case 'resume':
            onlyOptions('breaker resume', values, ['reason', 'tenant']);
            positionals('breaker resume', rest, []);
            return {
              kind: 'breaker_resume',
              reason: required('breaker resume', values.reason, 'reason', 1000),
              ...(values.tenant !== undefined ? { tenantId: tenant(values.tenant) } : {}),
            };
          default:
            throw usage(sub === undefined ? 'breaker needs status or resume' : `unknown command breaker ${sub}`);
        }
      }
      case 'api-keys':
        return apiKeys(after, values);
      default:
        throw usage(`unknown command ${group}`);
    }
  })();
  return { command, json, url, ...(values['auditor-url'] !== undefined ? { auditorUrl: values['auditor-url'] } : {}) };
}

function connection(raw: string, source: string, example: string, key: string | undefined, keySources: string): Connection {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw usage(`${JSON.stringify(raw)} is not a URL (${source}, e.g. ${example})`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw usage(`${JSON.stringify(raw)} is not an http(s) URL`);
  if (!key) throw new CliError(CliErrorCode.NoKey, `no credential: set AUTOHEAL_ADMIN_KEY to your API key or an OIDC token (${keySources})`);
  return { url: raw.replace(/\/+$/, ''), key };
}

/**
 * Where the decision service's admin API is and the credential for it: --url, else
 * AUTOHEAL_DECISION_URL, else the local default; AUTOHEAL_ADMIN_KEY, else the bootstrap key
 * DECISION_ADMIN_API_KEY (the variable the service itself reads).
 */
export function connectionFrom(urlFlag: string | undefined, env: Record<string, string | undefined>): Connection {
  const raw = urlFlag ?? (env.AUTOHEAL_DECISION_URL || DEFAULT_DECISION_URL);
  return connection(raw, '--url or AUTOHEAL_DECISION_URL', DEFAULT_DECISION_URL, env.AUTOHEAL_ADMIN_KEY || env.DECISION_ADMIN_API_KEY, 'or the bootstrap DECISION_ADMIN_API_KEY');
}

/** The auditor's API, for api-keys: --auditor-url, else AUTOHEAL_AUDITOR_URL, else the local default; AUTOHEAL_ADMIN_KEY, else the bootstrap AUDITOR_OPS_API_KEY. */
export function auditorConnectionFrom(urlFlag: string | undefined, env: Record<string, string | undefined>): Connection {
  const raw = urlFlag ?? (env.AUTOHEAL_AUDITOR_URL || DEFAULT_AUDITOR_URL);
  return connection(raw, '--auditor-url or AUTOHEAL_AUDITOR_URL', DEFAULT_AUDITOR_URL, env.AUTOHEAL_ADMIN_KEY || env.AUDITOR_OPS_API_KEY, 'or the bootstrap AUDITOR_OPS_API_KEY');
}
