import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKey, publicKeyToBase64, signingKeyFromPem } from './keys.js';
import type { Identity } from './trust-store.js';

export interface DevKeySet {
  /** The trust file listing every identity's public key. */
  trustFile: string;
  /** Each identity's private key file (PEM). */
  keyFiles: Record<string, string>;
}

export const TRUST_FILE_NAME = 'trust.json';

/** `agent:demo-fleet` → `agent-demo-fleet.pem`. */
export function keyFileName(identity: Identity): string {
  return `${identity.replace(':', '-')}.pem`;
}

/**
 * Development and test key material: one Ed25519 key per identity in `dir` (kept when it
 * exists, created mode 0600 when not), and a trust file listing all of them, rewritten each
 * time. Used by `npm start` (dir `.autoheal/keys`) and by tests (a temp dir). Production keys
 * are not made here: see the README (distribution and rotation).
 */
export function ensureDevKeySet(dir: string, identities: readonly Identity[]): DevKeySet {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFiles: Record<string, string> = {};
  const entries = identities.map((identity) => {
    const file = join(dir, keyFileName(identity));
    let pem: string;
    if (existsSync(file)) pem = readFileSync(file, 'utf8');
    else {
      pem = generateSigningKey().privatePem;
      writeFileSync(file, pem, { mode: 0o600 });
      chmodSync(file, 0o600);
    }
    keyFiles[identity] = file;
    const key = signingKeyFromPem(pem);
    return { keyId: key.keyId, identity, publicKey: publicKeyToBase64(key.publicKey) };
  });
  const trustFile = join(dir, TRUST_FILE_NAME);
  writeFileSync(trustFile, `${JSON.stringify({ keys: entries }, null, 2)}\n`);
  return { trustFile, keyFiles };
}
