import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { mergeRegistry, readRegistry, renderUsersFile, writeNewSeed, writeRegistry } from '@autoheal/messaging';
import { CliError, CliErrorCode } from './cli.errors.js';

export interface ProducersCreate {
  tenantId: string;
  out?: string;
  natsDir: string;
}

export interface ProducerCreated {
  tenantId: string;
  publicKey: string;
  seedFile: string;
  usersFile: string;
}

/** The NATS server's generated files: --nats-dir, else AUTOHEAL_NATS_DIR, else what `npm start` writes. */
export function natsDirFrom(flag: string | undefined, env: Record<string, string | undefined>): string {
  return flag ?? env.AUTOHEAL_NATS_DIR ?? join('.autoheal', 'nats');
}

/** Writes the seed, registers the user, regenerates the users file; returns what was done. */
export function createProducer(command: ProducersCreate): ProducerCreated {
  const registryFile = join(command.natsDir, 'identities.json');
  const usersFile = join(command.natsDir, 'users.conf');
  if (!existsSync(command.natsDir)) {
    throw new CliError(CliErrorCode.LocalDocuments, `${command.natsDir} does not exist (npm start creates .autoheal/nats; for another server, pass --nats-dir)`);
  }
  const seedFile = resolve(command.out ?? join(command.natsDir, 'seeds', `producer-${command.tenantId}.nk`));
  mkdirSync(dirname(seedFile), { recursive: true, mode: 0o700 });
  const publicKey = writeNewSeed(seedFile);
  const entries = mergeRegistry(readRegistry(registryFile), [{ identity: { kind: 'producer', tenantId: command.tenantId }, publicKey }]);
  writeRegistry(registryFile, entries);
  writeFileSync(usersFile, renderUsersFile(entries), { mode: 0o600 });
  return { tenantId: command.tenantId, seedFile, publicKey, usersFile };
}

export function formatProducerCreated(done: ProducerCreated): string[] {
  return [
    `producer ${done.tenantId}: ${done.publicKey}`,
    `  seed        ${done.seedFile} (mode 0600; give it to the tenant's SDK as nkeySeedFile / NATS_NKEY_SEED_FILE)`,
    `  may publish health.${done.tenantId}.> and nothing else`,
    `  users file  ${done.usersFile} updated`,
    '  now reload the server: nats-server --signal reload[=<pid>]   (or send it SIGHUP)',
  ];
}
