import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, type KeyObject, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SecurityError, SecurityErrorCode } from './security.errors.js';

/** A service's (or agent's) own signing key; the key id is derived from its public half. */
export interface SigningKey {
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/**
 * Key id = `ed25519:` + the first 16 bytes of sha256 over the public key's DER (SPKI), in
 * base64url. Derived, not chosen: a trust file entry whose id does not match its key is
 * refused, and two keys never share an id.
 */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return `ed25519:${createHash('sha256').update(der).digest().subarray(0, 16).toString('base64url')}`;
}

/** The public key as it is written in a trust file: base64 of its DER (SPKI) encoding. */
export function publicKeyToBase64(publicKey: KeyObject): string {
  return publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

/** Reads a public key written as PEM or as base64 DER (SPKI); throws on anything else or a non-Ed25519 key. */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  const key = trimmed.startsWith('-----BEGIN')
    ? createPublicKey(trimmed)
    : createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`expected an Ed25519 key, got ${key.asymmetricKeyType ?? 'an unknown type'}`);
  return key;
}

/** A new Ed25519 key pair, private half as PKCS#8 PEM (the format AUTOHEAL_SIGNING_KEY_FILE holds). */
export function generateSigningKey(): { key: SigningKey; privatePem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { key: { keyId: keyIdOf(publicKey), privateKey, publicKey }, privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

export function signingKeyFromPem(pem: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`expected an Ed25519 private key, got ${privateKey.asymmetricKeyType ?? 'an unknown type'}`);
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}

/** Loads AUTOHEAL_SIGNING_KEY_FILE: a PEM Ed25519 private key. */
export function loadSigningKey(path: string): SigningKey {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SecurityError(SecurityErrorCode.KeyFileUnreadable, `signing key file ${path} cannot be read: ${(error as Error).message}`);
  }
  try {
    return signingKeyFromPem(pem);
  } catch (error) {
    throw new SecurityError(SecurityErrorCode.KeyFileInvalid, `signing key file ${path} is not an Ed25519 private key in PEM: ${(error as Error).message}`);
  }
}

/** Ed25519 over exactly these bytes; the signature in base64. */
export function signBytes(key: SigningKey, bytes: Uint8Array): string {
  return sign(null, bytes, key.privateKey).toString('base64');
}

/** True when `signature` (base64) is a valid Ed25519 signature of `bytes` by `publicKey`. Never throws. */
export function verifyBytes(publicKey: KeyObject, bytes: Uint8Array, signature: string): boolean {
  try {
    const raw = Buffer.from(signature, 'base64');
    if (raw.length !== 64) return false;
    return verify(null, bytes, publicKey, raw);
  } catch {
    return false;
  }
}

/**
 * A 32-byte secret for one purpose, derived from the process's private key (HKDF-SHA256, the
 * purpose as info): keyed hashes that must be stable across restarts and unguessable by anyone
 * without the key (e.g. ids derived from public data), with no second secret to distribute. A
 * different purpose gives an unrelated secret.
 */
export function derivedSecret(key: SigningKey, purpose: string): Buffer {
  const material = key.privateKey.export({ format: 'der', type: 'pkcs8' });
  return Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), `autoheal ${purpose}`, 32));
}
