import { z } from 'zod';

/**
 * Credentials never live in a tenant document: a document names a secret (`secretRef`) and the
 * decision service resolves the name when it needs the value (by default from its environment).
 * Documents are versioned, diffed, announced in `compliance.policy_changed` and hashed into the
 * append-only audit chain, so a value written into one could never be removed again.
 */

/**
 * A secret's name, written like an environment variable. Upper case on purpose: the credentials
 * we know of (PagerDuty routing keys are 32 lower-case hex characters, HMAC secrets and tokens are
 * mixed-case random strings) cannot pass for a name, so a value pasted into `secretRef` is refused.
 */
export const secretRefSchema = z
  .string()
  .regex(/^[A-Z][A-Z0-9_]{0,127}$/, 'must name a secret (upper-case letters, digits and _, e.g. ACME_PAGERDUTY_ROUTING_KEY), never hold its value');

/**
 * Field names that carry a credential's value, compared without case, `_` or `-`. A document
 * with any of them, at any depth, is refused with the field named, whatever the schema around
 * it would say: the class of mistake is "a secret value in a document", not one field.
 */
const SECRET_FIELD_NAMES = new Set([
  'routingkey',
  'integrationkey',
  'servicekey',
  'secret',
  'clientsecret',
  'webhooksecret',
  'hmacsecret',
  'signingsecret',
  'signingkey',
  'privatekey',
  'password',
  'passwd',
  'passphrase',
  'token',
  'accesstoken',
  'bearertoken',
  'authtoken',
  'apikey',
  'accesskey',
  'secretkey',
  'authorization',
  'credentials',
]);

/** URL query parameters that carry a credential's value. */
const SECRET_QUERY_PARAMETERS = /^(token|access_token|api_key|apikey|key|secret|signature|sig|password|routing_key|auth)$/i;

export interface LiteralSecret {
  /** Path segments of the offending field inside the document. */
  path: (string | number)[];
  message: string;
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

/** What a URL string gives away: user-info, or a query parameter that carries a credential. */
function urlSecret(value: string): string | null {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.username || url.password) return 'a URL must not carry credentials (user:password@); put them in a secret and reference it with secretRef';
  for (const name of url.searchParams.keys()) {
    if (SECRET_QUERY_PARAMETERS.test(name)) return `a URL must not carry a credential in its query (${name}=…); put it in a secret and reference it with secretRef`;
  }
  return null;
}

/**
 * Every place in a raw (not yet validated) document that holds a secret's value: a field named
 * like a credential, or a URL with credentials in it. Runs before the schema, so the error says
 * "literal secret" rather than "unrecognised key".
 */
export function literalSecrets(raw: unknown, path: (string | number)[] = []): LiteralSecret[] {
  if (typeof raw === 'string') {
    const problem = urlSecret(raw);
    return problem ? [{ path, message: problem }] : [];
  }
  if (Array.isArray(raw)) return raw.flatMap((item, i) => literalSecrets(item, [...path, i]));
  if (raw === null || typeof raw !== 'object') return [];
  const found: LiteralSecret[] = [];
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (SECRET_FIELD_NAMES.has(normalise(key)) && value !== undefined && value !== null) {
      found.push({
        path: [...path, key],
        message: `literal secrets are refused: ${key} would be stored in every version, diff and audit entry; store the value as a secret and name it with secretRef`,
      });
      continue;
    }
    found.push(...literalSecrets(value, [...path, key]));
  }
  return found;
}
