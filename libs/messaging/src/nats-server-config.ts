import { identityName, permissionsFor, type NatsIdentity, type SubjectRules } from './nats-permissions.js';

/** One user of the server: an identity of the permission table and its public NKey. */
export interface NatsUserEntry {
  identity: NatsIdentity;
  publicKey: string;
}

export interface NatsServerConfigOptions {
  host?: string;
  port: number;
  storeDir: string;
  /** TLS on every client connection (and nothing in plain text). */
  tls?: { certFile: string; keyFile: string };
  /** The generated users file (`users = [...]`), included inside `authorization { }`, relative to the config file's folder; none: anonymous. */
  usersFile?: string;
  /** Server name in logs and monitoring. */
  serverName?: string;
}

const q = (s: string) => JSON.stringify(s);
const list = (items: readonly string[]) => `[${items.map(q).join(', ')}]`;

function rules(r: SubjectRules): string {
  return `{ allow: ${list(r.allow)}${r.deny && r.deny.length > 0 ? `, deny: ${list(r.deny)}` : ''} }`;
}

/** The `users = [...]` file: every identity with its NKey and permissions (generated, never edited by hand). */
export function renderUsersFile(entries: readonly NatsUserEntry[]): string {
  const seen = new Set<string>();
  const users = entries.map(({ identity, publicKey }) => {
    const name = identityName(identity);
    if (seen.has(publicKey)) throw new Error(`public key of ${name} is used twice`);
    seen.add(publicKey);
    const p = permissionsFor(identity, publicKey);
    const responses = p.allowResponses ? `,\n      allow_responses: { max: ${p.allowResponses.max}, expires: "${p.allowResponses.expiresMs}ms" }` : '';
    return [
      `  # ${name}`,
      `  { nkey: ${q(publicKey)}, permissions: {`,
      `      publish: ${rules(p.publish)},`,
      `      subscribe: ${rules(p.subscribe)}${responses}`,
      `  } }`,
    ].join('\n');
  });
  return `# Generated from libs/messaging/src/nats-permissions.ts; edits are overwritten.\nusers = [\n${users.join(',\n')}\n]\n`;
}

/**
 * The server's config file: JetStream with `sync_interval: always` (an acknowledged write is on
 * disk), and, when given, TLS and the NKey users file.
 */
export function renderServerConfig(options: NatsServerConfigOptions): string {
  const lines = [
    '# Generated; see libs/messaging/src/nats-server-config.ts.',
    `listen: ${q(`${options.host ?? '127.0.0.1'}:${options.port}`)}`,
    ...(options.serverName ? [`server_name: ${q(options.serverName)}`] : []),
    'jetstream {',
    `  store_dir: ${q(options.storeDir)}`,
    '  sync_interval: always',
    '}',
  ];
  if (options.tls) {
    lines.push('tls {', `  cert_file: ${q(options.tls.certFile)}`, `  key_file: ${q(options.tls.keyFile)}`, '  timeout: 5', '}');
  }
  if (options.usersFile) {
    lines.push('authorization {', `  include ${q(options.usersFile)}`, '}');
  }
  return `${lines.join('\n')}\n`;
}
