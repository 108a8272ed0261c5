import { parseArgs } from 'node:util';
import { SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';
import { MIGRATION_URL_VARIABLE } from '@autoheal/persistence';
import { apiKeyId, generateApiKey, hashApiKey, type ApiKeyScope } from './api-keys/api-key.js';
import { apiKeysRepository } from './api-keys/api-keys.repository.js';
import { auditorDataSource } from './data-source.js';

const USAGE = `usage: node apps/auditor/dist/api-keys.cli.js <command>
  create --scope ops [--label <text>]
  create --scope tenant --tenant <tenantId> [--label <text>]
  list
  revoke <keyId>
DATABASE_MIGRATION_URL selects the database and must log in as the owner role (autoheal_owner) or
an administrator: the auditor's own role (DATABASE_URL) may read keys but not change them.
A created key is printed once; only its sha256 is stored.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { scope: { type: 'string' }, tenant: { type: 'string' }, label: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const url = process.env[MIGRATION_URL_VARIABLE];
  if (!url) return fail(`${MIGRATION_URL_VARIABLE} is required (the owner role's URL)`);

  // Validate before connecting: a typo should not cost a connection attempt.
  let create: { scope: ApiKeyScope; tenantId: string | null; label: string } | undefined;
  if (command === 'create') {
    if (values.scope !== 'ops' && values.scope !== 'tenant') return fail('--scope must be ops or tenant');
    const tenantId = values.scope === 'tenant' ? (values.tenant ?? '') : null;
    if (values.scope === 'tenant' && !SUBJECT_TOKEN_PATTERN.test(tenantId ?? '')) return fail('--tenant <tenantId> is required for a tenant key (A-Z a-z 0-9 _ -)');
    if (values.scope === 'ops' && values.tenant) return fail('an ops key reads every tenant; drop --tenant');
    create = { scope: values.scope, tenantId, label: values.label ?? `created ${new Date().toISOString()}` };
  } else if (command === 'revoke' && rest.length !== 1) {
    return fail('revoke takes one key id');
  } else if (command !== 'list' && command !== 'revoke') {
    return fail(`unknown command ${command}`);
  }

  const ds = auditorDataSource(url);
  await ds.initialize();
  try {
    if (create) {
      const key = generateApiKey(create.scope);
      const keyHash = hashApiKey(key);
      await ds.transaction((m) => apiKeysRepository.upsert(m, { id: apiKeyId(keyHash), keyHash, ...create, origin: 'cli' }));
      console.log(JSON.stringify({ id: apiKeyId(keyHash), scope: create.scope, tenantId: create.tenantId, key }));
      console.error('store the key now: it cannot be shown again');
      return 0;
    }
    if (command === 'list') {
      for (const k of await apiKeysRepository.list(ds.manager)) console.log(JSON.stringify(k));
      return 0;
    }
    const revoked = await apiKeysRepository.revoke(ds.manager, rest[0], new Date());
    if (!revoked) {
      console.error(`no active key ${rest[0]}`);
      return 1;
    }
    console.log(JSON.stringify({ id: rest[0], revoked: true }));
    return 0;
  } finally {
    await ds.destroy();
  }
}

function fail(message: string): number {
  console.error(`${message}\n\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
