import { readFileSync } from 'node:fs';
import { nkeyAuthenticator, nkeys, type NodeConnectionOptions } from '@nats-io/transport-node';

/** The files a producer connects with: its NKey seed (from `autoheal producers create`) and the CA of the server. */
export interface NatsCredentials {
  /** File holding the producer's NKey seed (`SU…`). */
  nkeySeedFile?: string;
  /** PEM file of the CA that signed the NATS server's certificate; set, the connection requires TLS. */
  tlsCaFile?: string;
}

/**
 * Connection options for those files: NKey authentication, the producer's own inbox prefix
 * (`_INBOX.<public key>`: the server lets an identity subscribe to its own inbox only) and TLS
 * verified against the CA.
 */
export function natsCredentialOptions(credentials: NatsCredentials): Partial<NodeConnectionOptions> {
  const options: Partial<NodeConnectionOptions> = {};
  if (credentials.nkeySeedFile) {
    const seed = new TextEncoder().encode(readFileSync(credentials.nkeySeedFile, 'utf8').trim());
    let publicKey: string;
    try {
      publicKey = nkeys.fromSeed(seed).getPublicKey();
    } catch (error) {
      throw new Error(`${credentials.nkeySeedFile} does not hold a NATS NKey seed: ${error instanceof Error ? error.message : String(error)}`);
    }
    options.authenticator = nkeyAuthenticator(seed);
    options.inboxPrefix = `_INBOX.${publicKey}`;
  }
  if (credentials.tlsCaFile) options.tls = { caFile: credentials.tlsCaFile };
  return options;
}
