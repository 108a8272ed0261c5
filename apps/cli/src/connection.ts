import { CliError, CliErrorCode } from './cli.errors.js';

export const DEFAULT_DECISION_URL = 'http://127.0.0.1:3002';
export const DEFAULT_AUDITOR_URL = 'http://127.0.0.1:3000';

export interface Connection {
  /** Without a trailing slash. */
  url: string;
  key: string;
}

export type Env = Record<string, string | undefined>;

function connection(raw: string, source: string, example: string, key: string | undefined, keySources: string): Connection {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new CliError(CliErrorCode.Usage, `${JSON.stringify(raw)} is not a URL (${source}, e.g. ${example})`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new CliError(CliErrorCode.Usage, `${JSON.stringify(raw)} is not an http(s) URL`);
  if (!key) throw new CliError(CliErrorCode.NoKey, `no credential: set AUTOHEAL_ADMIN_KEY to your API key or an OIDC token (${keySources})`);
  return { url: raw.replace(/\/+$/, ''), key };
}

/**
 * Where the decision service's admin API is and the credential for it: --url, else
 * AUTOHEAL_DECISION_URL, else the local default; AUTOHEAL_ADMIN_KEY, else the bootstrap key
 * DECISION_ADMIN_API_KEY (the variable the service itself reads).
 */
export function connectionFrom(urlFlag: string | undefined, env: Env): Connection {
  const raw = urlFlag ?? (env.AUTOHEAL_DECISION_URL || DEFAULT_DECISION_URL);
  return connection(raw, '--url or AUTOHEAL_DECISION_URL', DEFAULT_DECISION_URL, env.AUTOHEAL_ADMIN_KEY || env.DECISION_ADMIN_API_KEY, 'or the bootstrap DECISION_ADMIN_API_KEY');
}

/** The auditor's API: --auditor-url, else AUTOHEAL_AUDITOR_URL, else the local default; AUTOHEAL_ADMIN_KEY, else the bootstrap AUDITOR_OPS_API_KEY. */
export function auditorConnectionFrom(urlFlag: string | undefined, env: Env): Connection {
  const raw = urlFlag ?? (env.AUTOHEAL_AUDITOR_URL || DEFAULT_AUDITOR_URL);
  return connection(raw, '--auditor-url or AUTOHEAL_AUDITOR_URL', DEFAULT_AUDITOR_URL, env.AUTOHEAL_ADMIN_KEY || env.AUDITOR_OPS_API_KEY, 'or the bootstrap AUDITOR_OPS_API_KEY');
}
