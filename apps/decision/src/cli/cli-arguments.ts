import { parseArgs } from 'node:util';
import { SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';
import { CliError, CliErrorCode } from './cli.errors.js';

export const DEFAULT_DECISION_URL = 'http://127.0.0.1:3002';

export const USAGE = `usage: autoheal <command> [--url <url>] [--json]

  apply -f <file|dir> [--changed-by <who>]
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
  approve <remediationId> --who <who> --reason <text>
  reject <remediationId> --who <who> --reason <text>
        settle a remediation that awaits approval
  breaker status
        the global circuit breaker
  breaker resume --who <who> --reason <text>
        close the breaker: automatic actions resume
  producers create <tenant> [--out <seed file>] [--nats-dir <dir>]
        a tenant producer's NATS credentials (local files; see autoheal producers help)

  --url <url>  the decision service (else AUTOHEAL_DECISION_URL, else ${DEFAULT_DECISION_URL})
  --json       print the service's answer as JSON
The admin key is read from AUTOHEAL_ADMIN_KEY, else DECISION_ADMIN_API_KEY.
Exit status: 0 done, 1 refused or failed, 2 bad arguments or no key.`;

export type Command =
  | { kind: 'help' }
  | { kind: 'apply'; path: string; changedBy: string }
  | { kind: 'tenants_list' }
  | { kind: 'tenants_versions'; tenantId: string; limit: number }
  | { kind: 'tenants_diff'; tenantId: string; from: string; to?: string }
  | { kind: 'backtest'; path: string; tenantId?: string; days?: number; all: boolean }
  | { kind: 'review'; verdict: 'approve' | 'reject'; remediationId: string; who: string; reason: string }
  | { kind: 'breaker_status' }
  | { kind: 'breaker_resume'; who: string; reason: string };

export interface ParsedCommand {
  command: Command;
  /** --url as given, if given. */
  url?: string;
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
  who: { type: 'string' },
  reason: { type: 'string' },
  url: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type OptionName = keyof typeof OPTIONS;
type Values = { [K in OptionName]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

const GLOBAL: readonly OptionName[] = ['url', 'json', 'help'];

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
  onlyOptions(verdict, values, ['who', 'reason']);
  const [remediationId] = positionals(verdict, rest, ['remediationId']);
  if (!UUID.test(remediationId)) throw usage(`${JSON.stringify(remediationId)} is not a remediation id (a UUID)`);
  return { kind: 'review', verdict, remediationId, who: required(verdict, values.who, 'who'), reason: required(verdict, values.reason, 'reason', 1000) };
}

/** Who an apply is recorded as when --changed-by is not given. */
export function defaultChangedBy(env: Record<string, string | undefined>): string {
  const user = env.USER ?? env.USERNAME;
  return user ? `${user} (autoheal cli)` : 'autoheal cli';
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
export function parseCommand(argv: readonly string[], env: Record<string, string | undefined>): ParsedCommand {
  const { values, positionals: words } = parseValues(argv);
  const json = values.json ?? false;
  const url = values.url;
  const [group, ...after] = words;
  if (values.help || group === 'help') return { command: { kind: 'help' }, json, url };
  if (group === undefined) throw usage('no command given');

  const command = ((): Command => {
    switch (group) {
      case 'apply': {
        onlyOptions('apply', values, ['file', 'changed-by']);
        positionals('apply', after, []);
        const changedBy = values['changed-by'] === undefined ? defaultChangedBy(env) : required('apply', values['changed-by'], 'changed-by');
        return { kind: 'apply', path: required('apply', values.file, 'file', 4096), changedBy };
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
            onlyOptions('breaker resume', values, ['who', 'reason']);
            positionals('breaker resume', rest, []);
            return { kind: 'breaker_resume', who: required('breaker resume', values.who, 'who'), reason: required('breaker resume', values.reason, 'reason', 1000) };
          default:
            throw usage(sub === undefined ? 'breaker needs status or resume' : `unknown command breaker ${sub}`);
        }
      }
      default:
        throw usage(`unknown command ${group}`);
    }
  })();
  return { command, json, url };
}

/**
 * Where the admin API is and the key to it: --url, else AUTOHEAL_DECISION_URL, else the local
 * default; AUTOHEAL_ADMIN_KEY, else DECISION_ADMIN_API_KEY (the variable the service itself reads).
 */
export function connectionFrom(urlFlag: string | undefined, env: Record<string, string | undefined>): Connection {
  const raw = urlFlag ?? (env.AUTOHEAL_DECISION_URL || DEFAULT_DECISION_URL);
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw usage(`${JSON.stringify(raw)} is not a URL (--url or AUTOHEAL_DECISION_URL, e.g. ${DEFAULT_DECISION_URL})`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw usage(`${JSON.stringify(raw)} is not an http(s) URL`);
  const key = env.AUTOHEAL_ADMIN_KEY || env.DECISION_ADMIN_API_KEY;
  if (!key) throw new CliError(CliErrorCode.NoKey, 'no admin key: set AUTOHEAL_ADMIN_KEY (or DECISION_ADMIN_API_KEY) to the decision service’s DECISION_ADMIN_API_KEY');
  return { url: raw.replace(/\/+$/, ''), key };
}
