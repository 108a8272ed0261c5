import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BUNDLE_FILES, readBundleDir, verifyArchive, verifyBundle, writeBundleDir, type BundleVerification, type Tombstone } from '@autoheal/evidence';
import { keyIdOf, parsePublicKey } from '@autoheal/security';
import type { AuditorClient } from './auditor-client.js';
import { CliError, CliErrorCode } from './cli.errors.js';

const usage = (message: string) => new CliError(CliErrorCode.Usage, message);

/** `{ keys: [{ keyId, publicKey, identity? }] }`: a key list from GET /v1/audit/keys or a trust file (only its `auditor` entries). */
export function readTrustedKeys(path: string): Map<string, KeyObject> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw usage(`--trusted-keys ${path} cannot be read as JSON: ${(error as Error).message}`);
  }
  const entries = (raw as { keys?: unknown }).keys;
  if (!Array.isArray(entries)) throw usage(`--trusted-keys ${path} must be {"keys": [...]}`);
  const keys = new Map<string, KeyObject>();
  for (const entry of entries as { keyId?: unknown; publicKey?: unknown; identity?: unknown }[]) {
    if (entry.identity !== undefined && entry.identity !== 'auditor') continue;
    if (typeof entry.publicKey !== 'string') throw usage(`--trusted-keys ${path}: an entry has no publicKey`);
    const key = parsePublicKey(entry.publicKey);
    if (entry.keyId !== keyIdOf(key)) throw usage(`--trusted-keys ${path}: key ${String(entry.keyId)} does not match its public key`);
    keys.set(keyIdOf(key), key);
  }
  return keys;
}

export function formatBundleReport(dir: string, report: BundleVerification): string[] {
  const lines = [
    `${report.ok ? 'intact' : 'NOT INTACT'}: ${dir}`,
    `  tenant ${report.tenantId ?? '?'}, rows ${report.fromSeq ?? '?'}..${report.toSeq ?? '?'} (chain head when exported: ${report.headSeq ?? '?'}), ${report.checkedRows} rows checked, ${report.checkpoints} checkpoints`,
    `  signed by ${report.keyIds.join(', ') || 'no key'}`,
  ];
  if (report.firstBreak) {
    const b = report.firstBreak;
    lines.push(`  first break: ${b.reason} at seq ${b.seq}${b.lastSeq !== null && b.lastSeq !== b.seq ? ` to ${b.lastSeq}` : ''}: ${b.detail}`);
  }
  for (const p of report.problems) lines.push(`  ${p.code}${p.file ? ` (${p.file})` : ''}: ${p.detail}`);
  return lines;
}

function readTombstone(path: string): Tombstone {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Tombstone;
  } catch (error) {
    throw usage(`--tombstone ${path} cannot be read as JSON: ${(error as Error).message}`);
  }
}

/** The keys a bundle lists (without --trusted-keys: consistency, not who made it). */
function bundleKeys(files: ReadonlyMap<string, Uint8Array>): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  try {
    const listed = (JSON.parse(Buffer.from(files.get(BUNDLE_FILES.keys) ?? '{}').toString('utf8')) as { keys?: { publicKey: string }[] }).keys ?? [];
    for (const entry of listed) {
      const key = parsePublicKey(entry.publicKey);
      keys.set(keyIdOf(key), key);
    }
  } catch {
    // An unreadable keys.json: no key, and the bundle's check names the file.
  }
  return keys;
}

/** A bundle's check, and for an archive of rows that retention dropped, its tombstone's too. */
export type BundleCheck = BundleVerification & { tombstone?: Tombstone; tombstoneProblems?: { code: string; detail: string }[] };

/**
 * Reads the bundle in `dir` and checks it with no database and no network. With a tombstone (the
 * signed record that replaced an archived month's rows in the database): the archive must be the
 * one it names, and run exactly from its hashBefore to its hashAfter.
 */
export function verifyBundleDir(dir: string, trustedKeysFile: string | undefined, tombstoneFile?: string): BundleCheck {
  let files: Map<string, Buffer>;
  try {
    files = readBundleDir(dir);
  } catch (error) {
    throw new CliError(CliErrorCode.LocalDocuments, `${dir} cannot be read: ${(error as Error).message}`);
  }
  const trustedKeys = trustedKeysFile === undefined ? undefined : readTrustedKeys(trustedKeysFile);
  if (tombstoneFile === undefined) return verifyBundle(files, { trustedKeys });
  const tombstone = readTombstone(tombstoneFile);
  const keys = trustedKeys ?? bundleKeys(files);
  return { ...verifyArchive(files, tombstone, (keyId) => keys.get(keyId) ?? null, { trustedKeys }), tombstone };
}

/** formatBundleReport, plus the tombstone's lines when there was one. */
export function formatBundleCheck(dir: string, check: BundleCheck): string[] {
  const lines = formatBundleReport(dir, check);
  if (check.tombstone) {
    const t = check.tombstone;
    lines.push(`  tombstone ${t.tenantId} seq ${t.fromSeq}..${t.toSeq} (${t.partition}, signed ${t.signedAt})`);
    for (const p of check.tombstoneProblems ?? []) lines.push(`  ${p.code}: ${p.detail}`);
  }
  return lines;
}

/** Fetches the tenant's bundle from the auditor and writes it into `dir` (new or empty). */
export async function exportBundle(
  client: AuditorClient,
  tenantId: string,
  dir: string,
  range: { from?: string; to?: string },
): Promise<{ dir: string; tenantId: string; fromSeq: number | null; toSeq: number | null; files: string[] }> {
  const answer = await client.exportAudit(tenantId, range);
  try {
    writeBundleDir(dir, new Map(Object.entries(answer.files)));
  } catch (error) {
    throw new CliError(CliErrorCode.LocalDocuments, (error as Error).message);
  }
  const manifest = JSON.parse(answer.files['manifest.json'] ?? '{}') as { fromSeq?: number; toSeq?: number };
  return { dir, tenantId, fromSeq: manifest.fromSeq ?? null, toSeq: manifest.toSeq ?? null, files: Object.keys(answer.files).sort() };
}
