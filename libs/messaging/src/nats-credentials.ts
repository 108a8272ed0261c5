import { readFileSync } from 'node:fs';
import { nkeyAuthenticator, nkeys, type NodeConnectionOptions } from '@nats-io/transport-node';
import { z } from 'zod';
import { inboxPrefixFor } from './nats-permissions.js';

/** What a client needs to authenticate and verify the server: its NKey seed file and the CA. */
export interface NatsCredentialFiles {
  /** File holding the identity's NKey seed (`SU…`), mode 0600. */
  seedFile?: string;
  /** PEM file of the CA that signed the server's certificate. */
  caFile?: string;
}

/** Reads a seed file; throws with the file name when it is not a user seed. */
export function readUserSeed(file: string): { seed: Uint8Array; publicKey: string } {
  const text = readFileSync(file, 'utf8').trim();
  try {
    const pair = nkeys.fromSeed(new TextEncoder().encode(text));
    const publicKey = pair.getPublicKey();
    if (!publicKey.startsWith('U')) throw new Error('not a user seed');
    return { seed: new TextEncoder().encode(text), publicKey };
  } catch (error) {
    throw new Error(`${file} does not hold a NATS user NKey seed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Connection options for those files: NKey authentication, the identity's own inbox prefix
 * (`_INBOX.<public key>`, the only inbox it may subscribe to), TLS verified against the CA.
 */
export function natsAuthOptions(files: NatsCredentialFiles): Partial<NodeConnectionOptions> {
  const options: Partial<NodeConnectionOptions> = {};
  if (files.seedFile) {
    const { seed, publicKey } = readUserSeed(files.seedFile);
    options.authenticator = nkeyAuthenticator(seed);
    options.inboxPrefix = inboxPrefixFor(publicKey);
  }
  if (files.caFile) options.tls = { caFile: files.caFile };
  return options;
}

function readable(file: string): boolean {
  try {
    readFileSync(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * The NATS variables every process validates at boot (spread into its zod schema, then
 * `.superRefine(checkNatsEnv)`): `NATS_URL`, `NATS_NKEY_SEED_FILE`, `NATS_TLS_CA_FILE`. A `tls://`
 * URL needs both files; a `nats://` URL (a local, anonymous, plain-text server, as the library
 * tests use) may go without.
 */
export const natsEnvShape = {
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  NATS_NKEY_SEED_FILE: z.string().min(1).optional(),
  NATS_TLS_CA_FILE: z.string().min(1).optional(),
};

export function checkNatsEnv(env: { NATS_URL: string; NATS_NKEY_SEED_FILE?: string; NATS_TLS_CA_FILE?: string }, ctx: z.RefinementCtx): void {
  const urls = env.NATS_URL.split(',').map((u) => u.trim());
  const tls = urls.some((u) => u.startsWith('tls://'));
  if (tls && urls.some((u) => !u.startsWith('tls://'))) {
    ctx.addIssue({ code: 'custom', path: ['NATS_URL'], message: 'mixes tls:// and plain servers' });
  }
  for (const [key, required] of [
    ['NATS_NKEY_SEED_FILE', tls],
    ['NATS_TLS_CA_FILE', tls],
  ] as const) {
    const file = env[key];
    if (!file) {
      if (required) ctx.addIssue({ code: 'custom', path: [key], message: 'required with a tls:// NATS_URL' });
      continue;
    }
    if (!readable(file)) ctx.addIssue({ code: 'custom', path: [key], message: `cannot read ${file}` });
    else if (key === 'NATS_NKEY_SEED_FILE') {
      try {
        readUserSeed(file);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: [key], message: (error as Error).message });
      }
    }
  }
}

/** The credential files of a validated config, for connectNats / MessagingModule. */
export function natsCredentialFiles(config: { NATS_NKEY_SEED_FILE?: string; NATS_TLS_CA_FILE?: string }): NatsCredentialFiles {
  return { seedFile: config.NATS_NKEY_SEED_FILE, caFile: config.NATS_TLS_CA_FILE };
}
