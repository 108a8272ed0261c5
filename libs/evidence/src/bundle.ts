import { createHash, type KeyObject } from 'node:crypto';
import { canonicalJson } from '@autoheal/contracts';
import { keyIdOf, parsePublicKey, publicKeyToBase64, signBytes, verifyBytes, type SigningKey } from '@autoheal/security';
import { closeChain, START_OF_CHAIN, verifyChain, type ChainBreak, type ChainVerification, type EvidenceRow } from './chain.js';
import { GENESIS_HASH, netstrings, type ChainedRow } from './row-hash.js';
import { sealStart, type SignedPoint } from './signed-point.js';

/**
 * An export of one tenant's trail that anyone can check with no database and no network: a
 * directory of five files.
 *
 * | file | |
 * |---|---|
 * | `rows.jsonl` | the rows, one JSON object per line, ascending seq (fields of ChainedRow) |
 * | `seals.jsonl` | the auditor's seals of the range (one per append transaction, stored at the last row it covers) |
 * | `checkpoints.jsonl` | the tenant's signed checkpoints, also those past the range |
 * | `keys.json` | `{ keys: [{ keyId, publicKey, firstUsedAt }] }`: every public key the auditor signed with |
 * | `manifest.json` | tenant, range, the chain's head when exported, each file's sha256 and size, signed by the auditor |
 */
export const BUNDLE_FORMAT = 'autoheal.audit-bundle.v1';

export const BUNDLE_FILES = {
  manifest: 'manifest.json',
  rows: 'rows.jsonl',
  seals: 'seals.jsonl',
  checkpoints: 'checkpoints.jsonl',
  keys: 'keys.json',
} as const;

const CONTENT_FILES = [BUNDLE_FILES.rows, BUNDLE_FILES.seals, BUNDLE_FILES.checkpoints, BUNDLE_FILES.keys] as const;

export interface PublicKeyRecord {
  keyId: string;
  /** Base64 of the DER (SPKI) encoding, as in a trust file. */
  publicKey: string;
  /** When the auditor first signed with it. */
  firstUsedAt: string;
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  tenantId: string;
  exportedAt: string;
  /** The range asked for, on recorded_at (from inclusive, to exclusive); null: open. */
  from: string | null;
  to: string | null;
  /** The rows held: fromSeq to toSeq (toSeq < fromSeq: none). */
  fromSeq: number;
  toSeq: number;
  /** The chain's head in the database when exported: toSeq = headSeq means the bundle reaches the end. */
  headSeq: number;
  files: Record<string, { sha256: string; bytes: number }>;
  keyId: string;
  /** Ed25519 over netstrings(BUNDLE_FORMAT, canonical JSON of the manifest without `signature`). */
  signature: string;
}

export interface BundleInput {
  tenantId: string;
  exportedAt: string;
  from: string | null;
  to: string | null;
  fromSeq: number;
  headSeq: number;
  rows: readonly ChainedRow[];
  seals: readonly SignedPoint[];
  checkpoints: readonly SignedPoint[];
  keys: readonly PublicKeyRecord[];
}

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
const jsonLines = (items: readonly unknown[]) => items.map((item) => `${JSON.stringify(item)}\n`).join('');

function manifestBytes(unsigned: Omit<BundleManifest, 'signature'>): Buffer {
  return netstrings([BUNDLE_FORMAT, canonicalJson(unsigned)]);
}

/** The bundle's files by name, signed with `key`. */
export function buildBundle(input: BundleInput, key: SigningKey): Map<string, string> {
  const contents = new Map<string, string>([
    [BUNDLE_FILES.rows, jsonLines(input.rows.map(rowLine))],
    [BUNDLE_FILES.seals, jsonLines(input.seals)],
    [BUNDLE_FILES.checkpoints, jsonLines(input.checkpoints)],
    [BUNDLE_FILES.keys, `${JSON.stringify({ keys: input.keys }, null, 2)}\n`],
  ]);
  const files: BundleManifest['files'] = {};
  for (const [name, text] of contents) files[name] = { sha256: sha256(text), bytes: Buffer.byteLength(text) };
  const last = input.rows[input.rows.length - 1];
  const unsigned: Omit<BundleManifest, 'signature'> = {
    format: BUNDLE_FORMAT,
    tenantId: input.tenantId,
    exportedAt: input.exportedAt,
    from: input.from,
    to: input.to,
    fromSeq: input.fromSeq,
    toSeq: last ? last.seq : input.fromSeq - 1,
    headSeq: input.headSeq,
    files,
    keyId: key.keyId,
  };
  const manifest: BundleManifest = { ...unsigned, signature: signBytes(key, manifestBytes(unsigned)) };
  contents.set(BUNDLE_FILES.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
  return contents;
}

/** A row's line: its fields in a fixed order (the order docs/audit-row-hash.md lists them). */
function rowLine(row: ChainedRow): ChainedRow {
  return {
    tenantId: row.tenantId,
    seq: row.seq,
    prevHash: row.prevHash,
    eventId: row.eventId,
    eventType: row.eventType,
    occurredAt: row.occurredAt,
    recordedAt: row.recordedAt,
    actor: row.actor,
    action: row.action,
    outcome: row.outcome,
    resource: row.resource,
    source: row.source,
    correlationId: row.correlationId,
    causationId: row.causationId,
    traceId: row.traceId,
    payload: row.payload,
    hash: row.hash,
  };
}

export type BundleProblemCode =
  | 'missing_file'
  | 'unlisted_file'
  | 'file_hash_mismatch'
  | 'invalid_manifest'
  | 'bad_manifest_signature'
  | 'invalid_line'
  | 'key_id_mismatch'
  | 'untrusted_key'
  | 'foreign_tenant';

/** Something wrong with the bundle as a set of files, apart from the chain it holds. */
export interface BundleProblem {
  code: BundleProblemCode;
  file: string | null;
  detail: string;
}

export interface BundleVerification {
  ok: boolean;
  tenantId: string | null;
  fromSeq: number | null;
  toSeq: number | null;
  headSeq: number | null;
  checkedRows: number;
  checkpoints: number;
  /** The keys whose signatures were accepted. */
  keyIds: string[];
  /** The first place the chain is not what the auditor recorded (null: none found). */
  firstBreak: ChainBreak | null;
  problems: BundleProblem[];
}

export interface VerifyBundleOptions {
  /**
   * The auditor's public keys as the verifier knows them from elsewhere (its trust file, a
   * published key list). Given: a key the bundle lists but this does not is refused. Not given:
   * the bundle's own keys are taken, which proves the bundle consistent, not who made it.
   */
  trustedKeys?: ReadonlyMap<string, KeyObject>;
}

/**
 * Checks a bundle: every file against the signed manifest, then the rows as a chain, against
 * their seals and the checkpoints (verifyChain / closeChain, the same judgement as the online
 * verify). Pure: the caller reads the files (bundle-files.ts).
 */
export function verifyBundle(files: ReadonlyMap<string, Uint8Array>, options: VerifyBundleOptions = {}): BundleVerification {
  const problems: BundleProblem[] = [];
  const report = (code: BundleProblemCode, file: string | null, detail: string) => problems.push({ code, file, detail });
  const empty: BundleVerification = { ok: false, tenantId: null, fromSeq: null, toSeq: null, headSeq: null, checkedRows: 0, checkpoints: 0, keyIds: [], firstBreak: null, problems };

  const manifestRaw = files.get(BUNDLE_FILES.manifest);
  if (!manifestRaw) {
    report('missing_file', BUNDLE_FILES.manifest, 'the bundle has no manifest');
    return empty;
  }
  const manifest = parseManifest(Buffer.from(manifestRaw).toString('utf8'));
  if (typeof manifest === 'string') {
    report('invalid_manifest', BUNDLE_FILES.manifest, manifest);
    return empty;
  }

  const keys = readKeys(files.get(BUNDLE_FILES.keys), options.trustedKeys, report);
  const { signature, ...unsigned } = manifest;
  const manifestKey = keys.get(manifest.keyId);
  if (!manifestKey || !verifyBytes(manifestKey, manifestBytes(unsigned), signature)) {
    report('bad_manifest_signature', BUNDLE_FILES.manifest, `the manifest's signature (key ${manifest.keyId}) does not hold: it was changed, or signed by a key not trusted`);
  }

  for (const name of files.keys()) {
    if (name !== BUNDLE_FILES.manifest && !(name in manifest.files)) report('unlisted_file', name, `${name} is not listed in the manifest`);
  }
  for (const name of CONTENT_FILES) {
    const listed = manifest.files[name];
    const bytes = files.get(name);
    if (!listed || !bytes) {
      report('missing_file', name, `${name} is ${listed ? 'missing' : 'not listed in the manifest'}`);
      continue;
    }
    const actual = sha256(bytes);
    if (actual !== listed.sha256 || bytes.length !== listed.bytes) {
      report('file_hash_mismatch', name, `${name} has sha256 ${actual} (${bytes.length} bytes); the manifest says ${listed.sha256} (${listed.bytes} bytes)`);
    }
  }

  const rows = readLines<EvidenceRow>(files.get(BUNDLE_FILES.rows), BUNDLE_FILES.rows, report);
  const seals = readLines<SignedPoint>(files.get(BUNDLE_FILES.seals), BUNDLE_FILES.seals, report);
  const checkpoints = readLines<SignedPoint>(files.get(BUNDLE_FILES.checkpoints), BUNDLE_FILES.checkpoints, report);
  for (const [file, items] of [
    [BUNDLE_FILES.rows, rows],
    [BUNDLE_FILES.seals, seals],
    [BUNDLE_FILES.checkpoints, checkpoints],
  ] as const) {
    const foreign = items.find((item) => item.tenantId !== manifest.tenantId);
    if (foreign) report('foreign_tenant', file, `${file} holds an entry of tenant ${JSON.stringify(foreign.tenantId)}, the bundle is of ${manifest.tenantId}`);
  }

  const sealBySeq = new Map(seals.map((s) => [s.seq, s]));
  const checkpointBySeq = new Map(checkpoints.map((c) => [c.seq, c]));
  const firstSealed = seals.reduce((min, s) => Math.min(min, sealStart(s)), Number.POSITIVE_INFINITY);
  const firstCheckpoint = checkpoints.reduce((min, c) => Math.min(min, c.seq), Number.POSITIVE_INFINITY);
  const resolve = (keyId: string) => keys.get(keyId) ?? null;
  const evidence = { checkpoints: checkpointBySeq, sealedAfter: Math.min(firstCheckpoint, firstSealed - 1), keys: resolve };

  // A range that starts after seq 1 takes its first row's prev_hash as given: the seal of its range vouches for it.
  const start: ChainVerification =
    manifest.fromSeq <= 1
      ? START_OF_CHAIN
      : { ...START_OF_CHAIN, headSeq: manifest.fromSeq - 1, headHash: rows[0]?.prevHash ?? GENESIS_HASH, checkpointedSeq: manifest.fromSeq - 1, sealedTo: manifest.fromSeq - 1 };
  let state = verifyChain(
    rows.map((row) => ({ ...row, seal: sealBySeq.get(row.seq) ?? null })),
    start,
    evidence,
  );
  // Checkpoints past the range are held against it only when the bundle claims to reach the chain's end.
  const reachesEnd = manifest.toSeq >= manifest.headSeq;
  const latest = reachesEnd ? checkpoints.reduce<SignedPoint | null>((max, c) => (max === null || c.seq > max.seq ? c : max), null) : null;
  state = closeChain(state, manifest.toSeq, latest, resolve, evidence.sealedAfter);

  return {
    ok: state.firstBreak === null && problems.length === 0,
    tenantId: manifest.tenantId,
    fromSeq: manifest.fromSeq,
    toSeq: manifest.toSeq,
    headSeq: manifest.headSeq,
    checkedRows: state.checkedRows,
    checkpoints: checkpoints.length,
    keyIds: [...keys.keys()],
    firstBreak: state.firstBreak,
    problems,
  };
}

function parseManifest(text: string): BundleManifest | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return `manifest.json is not JSON: ${(error as Error).message}`;
  }
  const m = raw as Partial<BundleManifest> | null;
  if (!m || typeof m !== 'object' || m.format !== BUNDLE_FORMAT) return `manifest.json is not a ${BUNDLE_FORMAT} manifest`;
  const ints = ['fromSeq', 'toSeq', 'headSeq'] as const;
  for (const field of ints) if (!Number.isSafeInteger(m[field])) return `manifest.json: ${field} must be an integer`;
  for (const field of ['tenantId', 'exportedAt', 'keyId', 'signature'] as const) if (typeof m[field] !== 'string') return `manifest.json: ${field} must be a string`;
  if (!m.files || typeof m.files !== 'object') return 'manifest.json: files must be an object';
  return m as BundleManifest;
}

function readKeys(
  raw: Uint8Array | undefined,
  trusted: ReadonlyMap<string, KeyObject> | undefined,
  report: (code: BundleProblemCode, file: string | null, detail: string) => void,
): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  if (!raw) return keys;
  let listed: PublicKeyRecord[] = [];
  try {
    listed = (JSON.parse(Buffer.from(raw).toString('utf8')) as { keys: PublicKeyRecord[] }).keys ?? [];
  } catch (error) {
    report('invalid_line', BUNDLE_FILES.keys, `keys.json is not JSON: ${(error as Error).message}`);
    return keys;
  }
  for (const entry of listed) {
    let key: KeyObject;
    try {
      key = parsePublicKey(entry.publicKey);
    } catch (error) {
      report('invalid_line', BUNDLE_FILES.keys, `key ${entry.keyId}: ${(error as Error).message}`);
      continue;
    }
    if (keyIdOf(key) !== entry.keyId) {
      report('key_id_mismatch', BUNDLE_FILES.keys, `key ${entry.keyId} does not match its public key (${keyIdOf(key)})`);
      continue;
    }
    const pinned = trusted?.get(entry.keyId);
    if (trusted && (!pinned || publicKeyToBase64(pinned) !== publicKeyToBase64(key))) {
      report('untrusted_key', BUNDLE_FILES.keys, `key ${entry.keyId} is not among the trusted keys`);
      continue;
    }
    keys.set(entry.keyId, key);
  }
  return keys;
}

function readLines<T>(raw: Uint8Array | undefined, file: string, report: (code: BundleProblemCode, file: string | null, detail: string) => void): T[] {
  if (!raw) return [];
  const items: T[] = [];
  const lines = Buffer.from(raw).toString('utf8').split('\n');
  lines.forEach((line, i) => {
    if (line === '') return;
    try {
      items.push(JSON.parse(line) as T);
    } catch (error) {
      report('invalid_line', file, `${file} line ${i + 1}: ${(error as Error).message}`);
    }
  });
  return items;
}
