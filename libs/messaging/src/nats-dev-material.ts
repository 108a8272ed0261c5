import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { readUserSeed } from './nats-credentials.js';
import { identityName, type NatsIdentity } from './nats-permissions.js';
import { renderServerConfig, renderUsersFile, type NatsUserEntry } from './nats-server-config.js';

/**
 * Development material for a TLS + NKey nats-server, generated locally (never committed):
 * a CA and a server certificate for 127.0.0.1/localhost made with `openssl`, one NKey seed per
 * identity, the users file generated from the permission table and the server config. Used by
 * `npm start` (under .autoheal/nats/) and by the tests (in a temp dir). Existing CA and seeds are
 * kept across runs; the users file and the config are written again every time.
 */
export interface NatsDevMaterial {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  usersFile: string;
  configFile: string;
  /** The identities' registry (identity + public key), the source of the users file. */
  registryFile: string;
  /** Seed file and public key per identity name (`detector`, `agent:demo-fleet`, `producer:acme`…). */
  identities: Map<string, { identity: NatsIdentity; seedFile: string; publicKey: string }>;
}

export interface NatsDevMaterialOptions {
  dir: string;
  identities: readonly NatsIdentity[];
  port: number;
  storeDir: string;
  host?: string;
}

/** File name of an identity's seed: `detector.nk`, `agent-demo-fleet.nk`, `producer-acme.nk`. */
export function seedFileName(identity: NatsIdentity): string {
  return `${identityName(identity).replace(/[^-_a-zA-Z0-9]/g, '-')}.nk`;
}

export function generateNatsDevMaterial(options: NatsDevMaterialOptions): NatsDevMaterial {
  const { dir } = options;
  mkdirSync(join(dir, 'seeds'), { recursive: true, mode: 0o700 });
  const tls = ensureDevCertificates(dir);
  const identities = new Map<string, { identity: NatsIdentity; seedFile: string; publicKey: string }>();
  for (const identity of options.identities) {
    const seedFile = join(dir, 'seeds', seedFileName(identity));
    const publicKey = existsSync(seedFile) ? readUserSeed(seedFile).publicKey : writeNewSeed(seedFile);
    identities.set(identityName(identity), { identity, seedFile, publicKey });
  }
  const registryFile = join(dir, 'identities.json');
  // Identities added later (a producer from `autoheal producers create`) are kept.
  const entries = mergeRegistry(readRegistry(registryFile), [...identities.values()]);
  writeRegistry(registryFile, entries);
  const usersFile = join(dir, 'users.conf');
  writeFileSync(usersFile, renderUsersFile(entries), { mode: 0o600 });
  const configFile = join(dir, 'nats-server.conf');
  writeFileSync(
    configFile,
    renderServerConfig({ host: options.host, port: options.port, storeDir: options.storeDir, tls: { certFile: tls.certFile, keyFile: tls.keyFile }, usersFile: basename(usersFile) }),
    { mode: 0o600 },
  );
  return { dir, ...tls, usersFile, configFile, registryFile, identities };
}

/** A new user NKey pair; the seed is written with mode 0600, the public key returned. */
export function writeNewSeed(file: string): string {
  const pair = nkeys.createUser();
  writeFileSync(file, `${new TextDecoder().decode(pair.getSeed())}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return pair.getPublicKey();
}

export function readRegistry(file: string): NatsUserEntry[] {
  if (!existsSync(file)) return [];
  return JSON.parse(readFileSync(file, 'utf8')) as NatsUserEntry[];
}

export function writeRegistry(file: string, entries: readonly NatsUserEntry[]): void {
  writeFileSync(file, `${JSON.stringify(entries, null, 2)}\n`, { mode: 0o600 });
}

/** The registry with `updates` put in place of the entries of the same identity name. */
export function mergeRegistry(existing: readonly NatsUserEntry[], updates: readonly NatsUserEntry[]): NatsUserEntry[] {
  const byName = new Map(existing.map((e) => [identityName(e.identity), e] as const));
  for (const u of updates) byName.set(identityName(u.identity), { identity: u.identity, publicKey: u.publicKey });
  return [...byName.values()];
}

/** A dev CA (kept) and a server certificate for 127.0.0.1 and localhost signed by it (made when missing). */
export function ensureDevCertificates(dir: string): { caFile: string; certFile: string; keyFile: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca-key.pem');
  const certFile = join(dir, 'server-cert.pem');
  const keyFile = join(dir, 'server-key.pem');
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  if (!existsSync(caFile) || !existsSync(caKey)) {
    openssl(['req', '-x509', ...ec, '-keyout', caKey, '-out', caFile, '-days', '825', '-subj', '/CN=autoheal development NATS CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  }
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const csr = join(dir, 'server.csr');
    const ext = join(dir, 'server-ext.cnf');
    writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
    openssl(['req', ...ec, '-keyout', keyFile, '-out', csr, '-subj', '/CN=localhost']);
    openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '825', '-out', certFile, '-extfile', ext]);
  }
  for (const key of [caKey, keyFile]) chmodSync(key, 0o600);
  return { caFile, certFile, keyFile };
}

/** Dev material plus the connection files of one identity by name (`detector`, `producer:acme`, `agent:demo-fleet`…). */
export interface SecureNatsMaterial extends NatsDevMaterial {
  credentials(identity: string): { seedFile: string; caFile: string };
}

/**
 * A nats-server setup for `startNatsServer` of @autoheal/testing: TLS with a locally made CA and
 * NKey users for these identities, with the permission table's rights.
 */
export function natsDevServerSetup(identities: readonly NatsIdentity[]): {
  tls: true;
  writeConfig(args: { port: number; storeDir: string; dir: string }): { configFile: string; material: SecureNatsMaterial };
} {
  return {
    tls: true,
    writeConfig({ port, storeDir, dir }) {
      const material = generateNatsDevMaterial({ dir, identities, port, storeDir });
      return {
        configFile: material.configFile,
        material: {
          ...material,
          credentials(identity: string) {
            const entry = material.identities.get(identity);
            if (!entry) throw new Error(`no NATS identity ${identity} on this server (known: ${[...material.identities.keys()].join(', ')})`);
            return { seedFile: entry.seedFile, caFile: material.caFile };
          },
        },
      };
    },
  };
}
