import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDevKeySet, loadSigningKey, loadTrustStore, type Identity, type SigningKey, type TrustStore } from '@autoheal/security';

/** The identities a test key set holds: the four services and the demo fleet's agent. */
export const TEST_IDENTITIES: readonly Identity[] = ['detector', 'decision', 'executor', 'auditor', 'agent:demo-fleet'];

export interface TestKeys {
  dir: string;
  trustFile: string;
  trust: TrustStore;
  /** The private key of an identity in the set. */
  key(identity: Identity): SigningKey;
  /** AUTOHEAL_SIGNING_KEY_FILE and AUTOHEAL_TRUST_FILE for a process running as `identity`. */
  env(identity: Identity): { AUTOHEAL_SIGNING_KEY_FILE: string; AUTOHEAL_TRUST_FILE: string };
  remove(): void;
}

/** A fresh key per identity in a temp dir, and the trust file listing them, made the way `npm start` makes its own. */
export function createTestKeys(identities: readonly Identity[] = TEST_IDENTITIES): TestKeys {
  const dir = mkdtempSync(join(tmpdir(), 'autoheal-keys-'));
  const set = ensureDevKeySet(dir, identities);
  const keys = new Map(identities.map((identity) => [identity, loadSigningKey(set.keyFiles[identity])]));
  return {
    dir,
    trustFile: set.trustFile,
    trust: loadTrustStore(set.trustFile),
    key(identity) {
      const key = keys.get(identity);
      if (!key) throw new Error(`no test key for ${identity}`);
      return key;
    },
    env(identity) {
      return { AUTOHEAL_SIGNING_KEY_FILE: set.keyFiles[identity], AUTOHEAL_TRUST_FILE: set.trustFile };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
