import type { KeyObject } from 'node:crypto';
import { signBytes, verifyBytes, type SigningKey } from '@autoheal/security';
import { netstrings } from './row-hash.js';

/**
 * A point of a tenant's chain the auditor signed (Ed25519): "the row at `seq` of `tenantId` has
 * hash `headHash`", at `signedAt`, with the key `keyId`. Since each row's hash covers the previous
 * row's, a signed point vouches for the whole chain up to it.
 *
 * Two kinds, one shape:
 * - a **seal**: the auditor signs the rows it appends, right after the database placed them, one
 *   seal per tenant and append transaction over the range `fromSeq`..`seq` it appended (so a row
 *   the database holds outside every valid seal's range was not appended by the auditor). A seal
 *   without `fromSeq` (format v1, written before) is a range of one row;
 * - a **checkpoint**: the chain's head on a cadence and on demand, kept also where the database
 *   cannot rewrite it (a JetStream stream that denies delete and purge, a file sink).
 * The kind is the first field signed, so neither can be passed off as the other.
 */
export type SignedPointKind = 'checkpoint' | 'seal';

export interface SignedPoint {
  tenantId: string;
  /** Seals only (format v2): the first seq of the range the seal covers; `seq` is its last. */
  fromSeq?: number;
  seq: number;
  headHash: string;
  /** RFC 3339 UTC with milliseconds. */
  signedAt: string;
  keyId: string;
  /** Ed25519 over signedPointBytes, base64. */
  signature: string;
}

export const SIGNED_POINT_FORMATS: Record<SignedPointKind, string> = {
  checkpoint: 'autoheal.checkpoint.v1',
  seal: 'autoheal.seal.v1',
};

/** A seal over a range (it has `fromSeq`). */
export const SEAL_RANGE_FORMAT = 'autoheal.seal.v2';

/**
 * The bytes signed: netstrings of the format, tenant, seq (decimal), head hash (hex), time, key
 * id; a seal over a range (v2) has its `fromSeq` (decimal) before `seq`. A checkpoint never has one.
 */
export function signedPointBytes(kind: SignedPointKind, point: Omit<SignedPoint, 'signature'>): Buffer {
  if (kind === 'seal' && point.fromSeq !== undefined) {
    return netstrings([SEAL_RANGE_FORMAT, point.tenantId, String(point.fromSeq), String(point.seq), point.headHash, point.signedAt, point.keyId]);
  }
  return netstrings([SIGNED_POINT_FORMATS[kind], point.tenantId, String(point.seq), point.headHash, point.signedAt, point.keyId]);
}

/** The first seq a seal covers (a v1 seal: its own). */
export function sealStart(seal: SignedPoint): number {
  return seal.fromSeq ?? seal.seq;
}

export function signPoint(kind: SignedPointKind, key: SigningKey, point: { tenantId: string; seq: number; headHash: string; signedAt: string }): SignedPoint {
  const unsigned = { ...point, keyId: key.keyId };
  return { ...unsigned, signature: signBytes(key, signedPointBytes(kind, unsigned)) };
}

/** The auditor's seal over the rows `fromSeq`..`seq` of a tenant it appended in one transaction, `headHash` the hash at `seq`. */
export function signSeal(key: SigningKey, range: { tenantId: string; fromSeq: number; seq: number; headHash: string; signedAt: string }): SignedPoint {
  const unsigned = { tenantId: range.tenantId, fromSeq: range.fromSeq, seq: range.seq, headHash: range.headHash, signedAt: range.signedAt, keyId: key.keyId };
  return { ...unsigned, signature: signBytes(key, signedPointBytes('seal', unsigned)) };
}

/** Which public key a key id stands for, or null when it is not trusted. */
export type KeyResolver = (keyId: string) => KeyObject | null;

export type SignedPointProblem = 'unknown_key' | 'bad_signature';

/** Null when `point` is signed by a key `keys` trusts; otherwise why not. Never throws. */
export function checkSignedPoint(kind: SignedPointKind, point: SignedPoint, keys: KeyResolver): SignedPointProblem | null {
  const publicKey = keys(point.keyId);
  if (!publicKey) return 'unknown_key';
  const { signature, ...unsigned } = point;
  return verifyBytes(publicKey, signedPointBytes(kind, unsigned), signature) ? null : 'bad_signature';
}
