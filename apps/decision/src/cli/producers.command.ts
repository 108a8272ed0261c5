import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';
import { mergeRegistry, readRegistry, renderUsersFile, writeNewSeed, writeRegistry } from '@autoheal/messaging';
import type { CliIo } from './run-cli.js';

export const PRODUCERS_USAGE = `usage: autoheal producers create <tenant> [--out <seed file>] [--nats-dir <dir>]

  Creates a tenant producer's NATS credentials: a new NKey pair whose seed is written to --out
  (mode 0600; default <nats-dir>/seeds/producer-<tenant>.nk), and a user allowed to publish
  health.<tenant>.> and nothing else, added to <nats-dir>/identities.json and to the users file
  <nats-dir>/users.conf that the server's config includes. A producer of that tenant made before
  is replaced (its old seed stops working at the reload).
  Then make the server read its config again: nats-server --signal reload[=<pid>]

  --nats-dir <dir>  the server's generated files (else AUTOHEAL_NATS_DIR, else .autoheal/nats)`;

export interface ProducersCreate {
  tenantId: string;
  out?: string;
  natsDir: string;
}

/** `producers create <tenant> [--out f] [--nats-dir d]`; throws a message for bad arguments. */
export function parseProducersCommand(argv: readonly string[], env: Record<string, string | undefined>): ProducersCreate | 'help' {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === 'help' || rest.includes('--help')) return 'help';
  if (verb !== 'create') throw new Error(`unknown producers command: ${verb}`);
  let tenantId: string | undefined;
  let out: string | undefined;
  let natsDir = env.AUTOHEAL_NATS_DIR ?? join('.autoheal', 'nats');
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--out' || arg === '--nats-dir') {
      const value = rest[++i];
      if (!value) throw new Error(`${arg} needs a value`);
      if (arg === '--out') out = value;
      else natsDir = value;
    } else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else if (tenantId === undefined) tenantId = arg;
    else throw new Error(`unexpected argument ${arg}`);
  }
  if (!tenantId) throw new Error('name the tenant');
  if (!SUBJECT_TOKEN_PATTERN.test(tenantId)) throw new Error(`${tenantId} is not a tenant id (letters, digits, - and _)`);
  return { tenantId, out, natsDir };
}

/** Writes the seed, registers the user, regenerates the users file; returns what was done. */
export function createProducer(command: ProducersCreate): { seedFile: string; publicKey: string; usersFile: string } {
  const registryFile = join(command.natsDir, 'identities.json');
  const usersFile = join(command.natsDir, 'users.conf');
  if (!existsSync(command.natsDir)) throw new Error(`${command.natsDir} does not exist (npm start creates .autoheal/nats; for another server, pass --nats-dir)`);
  const seedFile = resolve(command.out ?? join(command.natsDir, 'seeds', `producer-${command.tenantId}.nk`));
  mkdirSync(dirname(seedFile), { recursive: true, mode: 0o700 });
  const publicKey = writeNewSeed(seedFile);
  const entries = mergeRegistry(readRegistry(registryFile), [{ identity: { kind: 'producer', tenantId: command.tenantId }, publicKey }]);
  writeRegistry(registryFile, entries);
  writeFileSync(usersFile, renderUsersFile(entries), { mode: 0o600 });
  return { seedFile, publicKey, usersFile };
}

/** `autoheal producers …`: local files only, no admin API. Exit status 0 done, 2 bad arguments, 1 failed. */
export function runProducers(argv: readonly string[], env: Record<string, string | undefined>, io: CliIo): number {
  let command: ProducersCreate | 'help';
  try {
    command = parseProducersCommand(argv, env);
  } catch (error) {
    io.err(`error: ${(error as Error).message}\n\n${PRODUCERS_USAGE}`);
    return 2;
  }
  if (command === 'help') {
    io.out(PRODUCERS_USAGE);
    return 0;
  }
  try {
    const done = createProducer(command);
    io.out(`producer ${command.tenantId}: ${done.publicKey}`);
    io.out(`  seed        ${done.seedFile} (mode 0600; give it to the tenant's SDK as nkeySeedFile / NATS_NKEY_SEED_FILE)`);
    io.out(`  may publish health.${command.tenantId}.> and nothing else`);
    io.out(`  users file  ${done.usersFile} updated`);
    io.out('  now reload the server: nats-server --signal reload[=<pid>]   (or send it SIGHUP)');
    return 0;
  } catch (error) {
    io.err(`error: ${(error as Error).message}`);
    return 1;
  }
}
