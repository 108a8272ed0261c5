import { loadSigningKey, loadTrustStore, SecurityError, SecurityErrorCode, type Identity, type SigningKey, type TrustStore } from '@autoheal/security';

/** What a service signs with and whom it trusts, loaded once at boot. */
export interface SigningMaterial {
  key: SigningKey;
  trust: TrustStore;
  /** Who this service is: the identity its own key has in the trust store. */
  identity: Identity;
}

export interface SigningFiles {
  /** AUTOHEAL_SIGNING_KEY_FILE */
  keyFile: string;
  /** AUTOHEAL_TRUST_FILE */
  trustFile: string;
}

/**
 * Loads the key and the trust store; refuses a key the trust store does not list, since no one
 * would accept what it signs, and a key listed under another identity than `expected`.
 */
export function loadSigningMaterial(files: SigningFiles, expected?: Identity): SigningMaterial {
  const key = loadSigningKey(files.keyFile);
  const trust = loadTrustStore(files.trustFile);
  const own = trust.keys.get(key.keyId);
  if (!own) throw new SecurityError(SecurityErrorCode.TrustFileInvalid, `the signing key in ${files.keyFile} (${key.keyId}) is not listed in ${files.trustFile}`);
  if (expected !== undefined && own.identity !== expected) {
    throw new SecurityError(SecurityErrorCode.TrustFileInvalid, `the signing key in ${files.keyFile} is trusted as ${own.identity}, this process is ${expected}`);
  }
  return { key, trust, identity: own.identity };
}
