import { createHash } from 'node:crypto';
import { signBytes, verifyBytes, type SigningKey } from '@autoheal/security';
import { BUNDLE_FILES, verifyBundle, type BundleVerification, type VerifyBundleOptions } from './bundle.js';
import { START_OF_CHAIN, type ChainBreak, type ChainVerification } from './chain.js';
import { GENESIS_HASH, netstrings } from './row-hash.js';
import type { KeyResolver } from './signed-point.js';

/**
 * The auditor's signed word that rows `fromSeq`..`toSeq` of a tenant's chain left the database
 * after being archived: the chain ran from `hashBefore` (the prev_hash of `fromSeq`) to
 * `hashAfter` (the hash of `toSeq`), and the archive holding them has the manifest whose sha256
 * is `manifestSha256`. Written before the partition holding the rows is dropped, so that:
 *
 * - the online chain is verified from `toSeq + 1`, its first row's prev_hash held to `hashAfter`
 *   (an edit of the rows left online, or a row slipped in at the gap, still breaks the chain);
 * - the archive is held to the tombstone (verifyArchive): its manifest is the one named, its rows
 *   run exactly from `hashBefore` to `hashAfter` (an edited archive fails its own manifest, or the
 *   rows' hashes, or the manifest hash the tombstone signed).
 *
 * Signed like a checkpoint (Ed25519, `@autoheal/security`) over netstrings of the format and the
 * fields in the order below.
 */
export const TOMBSTONE_FORMAT = 'autoheal.tombstone.v1';

export interface Tombstone {
  tenantId: string;
  fromSeq: number;
  toSeq: number;
  hashBefore: string;
  hashAfter: string;
  manifestSha256: string;
  /** The partition the rows were in (informative: where to find the archive). */
  partition: string;
  signedAt: string;
  keyId: string;
  signature: string;
}

export function tombstoneBytes(t: Omit<Tombstone, 'signature'>): Buffer {
  return netstrings([TOMBSTONE_FORMAT, t.tenantId, String(t.fromSeq), String(t.toSeq), t.hashBefore, t.hashAfter, t.manifestSha256, t.partition, t.signedAt, t.keyId]);
}

export function signTombstone(key: SigningKey, t: Omit<Tombstone, 'signature' | 'keyId'>): Tombstone {
  const unsigned = { ...t, keyId: key.keyId };
  return { ...unsigned, signature: signBytes(key, tombstoneBytes(unsigned)) };
}

/** Null when the tombstone is signed by a trusted key; otherwise why not. */
export function checkTombstone(t: Tombstone, keys: KeyResolver): 'unknown_key' | 'bad_signature' | null {
  const key = keys(t.keyId);
  if (!key) return 'unknown_key';
  const { signature, ...unsigned } = t;
  return verifyBytes(key, tombstoneBytes(unsigned), signature) ? null : 'bad_signature';
}

/**
 * Where a tenant's online chain begins once its first rows were archived and dropped: after the
 * last of its tombstones, which must run contiguously from seq 1 (genesis) and each be validly
 * signed. With none, the chain begins at its first row. A tombstone that does not hold is a break
 * (`tombstone_invalid`), and the chain is then followed from where the tombstones claim it goes,
 * so that the rows after are still checked.
 */
export function chainStartAfterTombstones(tombstones: readonly Tombstone[], keys: KeyResolver): { start: ChainVerification; problem: ChainBreak | null } {
  const sorted = [...tombstones].sort((a, b) => a.fromSeq - b.fromSeq);
  let seq = 0;
  let hash = GENESIS_HASH;
  let problem: ChainBreak | null = null;
  for (const t of sorted) {
    const signature = checkTombstone(t, keys);
    const detail =
      signature !== null
        ? `the tombstone of seq ${t.fromSeq} to ${t.toSeq} does not hold: ${signature} (key ${t.keyId})`
        : t.fromSeq !== seq + 1
          ? `the tombstone of seq ${t.fromSeq} to ${t.toSeq} does not follow seq ${seq}`
          : t.hashBefore !== hash
            ? `the tombstone of seq ${t.fromSeq} to ${t.toSeq} starts from another hash than seq ${seq} ends with`
            : null;
    if (detail !== null && problem === null) {
      problem = { seq: seq + 1, lastSeq: t.toSeq, reason: 'tombstone_invalid', expectedHash: hash, actualHash: t.hashBefore, detail };
    }
    seq = t.toSeq;
    hash = t.hashAfter;
  }
  return { start: { ...START_OF_CHAIN, headSeq: seq, headHash: hash, checkpointedSeq: seq, sealedTo: seq }, problem };
}

export type ArchiveProblem = 'tombstone_invalid' | 'manifest_not_tombstoned' | 'range_mismatch' | 'ends_mismatch';

export interface ArchiveVerification extends BundleVerification {
  /** What does not match between the archive and its tombstone (empty: it is the archive the tombstone names). */
  tombstoneProblems: { code: ArchiveProblem; detail: string }[];
}

/**
 * An archive (a bundle directory's files) checked on its own (verifyBundle) and against the
 * tombstone that replaced its rows online: the manifest is the one the tombstone signed, the
 * range is the tombstone's, the rows run from `hashBefore` to `hashAfter`.
 */
export function verifyArchive(files: ReadonlyMap<string, Uint8Array>, tombstone: Tombstone, keys: KeyResolver, options: VerifyBundleOptions = {}): ArchiveVerification {
  const bundle = verifyBundle(files, options);
  const problems: ArchiveVerification['tombstoneProblems'] = [];
  const signature = checkTombstone(tombstone, keys);
  if (signature !== null) problems.push({ code: 'tombstone_invalid', detail: `the tombstone does not hold: ${signature} (key ${tombstone.keyId})` });
  const manifest = files.get(BUNDLE_FILES.manifest);
  const manifestSha256 = manifest ? createHash('sha256').update(manifest).digest('hex') : null;
  if (manifestSha256 !== tombstone.manifestSha256) {
    problems.push({ code: 'manifest_not_tombstoned', detail: `the archive's manifest has sha256 ${manifestSha256 ?? '(none)'}; the tombstone signed ${tombstone.manifestSha256}` });
  }
  if (bundle.tenantId !== tombstone.tenantId || bundle.fromSeq !== tombstone.fromSeq || bundle.toSeq !== tombstone.toSeq) {
    problems.push({
      code: 'range_mismatch',
      detail: `the archive holds ${bundle.tenantId ?? '?'} seq ${bundle.fromSeq ?? '?'} to ${bundle.toSeq ?? '?'}; the tombstone ${tombstone.tenantId} seq ${tombstone.fromSeq} to ${tombstone.toSeq}`,
    });
  }
  const rows = (files.get(BUNDLE_FILES.rows) ? Buffer.from(files.get(BUNDLE_FILES.rows)!).toString('utf8') : '').split('\n').filter((l) => l !== '');
  const first = rows.length > 0 ? safeRow(rows[0]) : null;
  const last = rows.length > 0 ? safeRow(rows[rows.length - 1]) : null;
  if (first?.prevHash !== tombstone.hashBefore || last?.hash !== tombstone.hashAfter) {
    problems.push({ code: 'ends_mismatch', detail: `the archive's rows do not run from ${tombstone.hashBefore} to ${tombstone.hashAfter}` });
  }
  return { ...bundle, ok: bundle.ok && problems.length === 0, tombstoneProblems: problems };
}

function safeRow(line: string): { prevHash?: string; hash?: string } | null {
  try {
    return JSON.parse(line) as { prevHash?: string; hash?: string };
  } catch {
    return null;
  }
}
