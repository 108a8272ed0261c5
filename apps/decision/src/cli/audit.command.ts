import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';
import { BUNDLE_FILES, readBundleDir, verifyArchive, verifyBundle, writeBundleDir, type BundleVerification, type Tombstone } from '@autoheal/evidence';
import { keyIdOf, parsePublicKey } from '@autoheal/security';
import { AUDITOR_TARGET, requestJson } from './admin-client.js';
import { auditorConnectionFrom } from './cli-arguments.js';
import { CliError, CliErrorCode, exitCodeFor } from './cli.errors.js';
import type { CliIo } from './run-cli.js';

export const AUDIT_USAGE = `usage: autoheal audit <command>

  audit export --tenant <tenant> --out <dir> [--from <time>] [--to <time>] [--auditor-url <url>]
        a bundle of the tenant's rows recorded in [from, to) (default: the whole chain), written
        into <dir> (new or empty): rows.jsonl, seals.jsonl, checkpoints.jsonl, keys.json, manifest.json
  audit verify-bundle <dir> [--trusted-keys <file>] [--tombstone <file>] [--json]
        checks a bundle with no database and no network: every file against the signed manifest,
        the rows as a hash chain, against their seals and the signed checkpoints. --trusted-keys:
        the auditor's keys as you know them from elsewhere (GET /v1/audit/keys saved earlier, or a
        trust file; only its auditor entries count); without it the bundle's own keys are used,
        which shows the bundle is consistent, not who made it. --tombstone: for an archive of
        rows that retention dropped, the signed tombstone that replaced them in the database
        (<partition>/<tenant>.tombstone.json beside the archive): the archive must be the one it
        names, and run exactly from its hashBefore to its hashAfter.
Exit status: 0 intact, 1 a break or a bad file found (named), 2 bad arguments.`;

const OPTIONS = {
  tenant: { type: 'string' },
  out: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  'auditor-url': { type: 'string' },
  'trusted-keys': { type: 'string' },
  tombstone: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = (message: string) => new CliError(CliErrorCode.Usage, message);

function instant(option: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw usage(`--${option} must be an RFC 3339 time with a zone, e.g. 2026-12-31T23:59:00Z`);
  }
  return new Date(value).toISOString();
}

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

/** `autoheal audit …`: export talks to the auditor; verify-bundle reads only the directory. */
export async function runAudit(argv: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  try {
    let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
    try {
      parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    } catch (error) {
      throw usage((error as Error).message);
    }
    const { values, positionals } = parsed;
    const [verb, ...rest] = positionals;
    if (values.help || verb === undefined || verb === 'help') {
      io.out(AUDIT_USAGE);
      return 0;
    }
    switch (verb) {
      case 'export': {
        if (rest.length > 0) throw usage(`audit export does not take ${rest.join(' ')}`);
        if (values['trusted-keys'] !== undefined) throw usage('audit export does not take --trusted-keys');
        if (values.tombstone !== undefined) throw usage('audit export does not take --tombstone');
        const tenantId = values.tenant;
        if (!tenantId || !SUBJECT_TOKEN_PATTERN.test(tenantId)) throw usage('audit export needs --tenant <tenant id>');
        if (!values.out) throw usage('audit export needs --out <dir>');
        const query = new URLSearchParams();
        const from = instant('from', values.from);
        const to = instant('to', values.to);
        if (from) query.set('from', from);
        if (to) query.set('to', to);
        const connection = auditorConnectionFrom(values['auditor-url'], env);
        const answer = await requestJson<{ files: Record<string, string> }>(
          connection,
          AUDITOR_TARGET,
          'GET',
          `/v1/tenants/${encodeURIComponent(tenantId)}/audit/export${query.size > 0 ? `?${query.toString()}` : ''}`,
          undefined,
          120_000,
        );
        try {
          writeBundleDir(values.out, new Map(Object.entries(answer.files)));
        } catch (error) {
          throw new CliError(CliErrorCode.LocalDocuments, (error as Error).message);
        }
        const manifest = JSON.parse(answer.files['manifest.json'] ?? '{}') as { fromSeq?: number; toSeq?: number };
        io.out(`wrote ${values.out}: tenant ${tenantId}, rows ${manifest.fromSeq ?? '?'}..${manifest.toSeq ?? '?'}`);
        return 0;
      }
      case 'verify-bundle': {
        if (rest.length !== 1) throw usage('audit verify-bundle needs exactly one <dir>');
        for (const option of ['tenant', 'out', 'from', 'to', 'auditor-url'] as const) if (values[option] !== undefined) throw usage(`audit verify-bundle does not take --${option}`);
        const dir = rest[0];
        let files: Map<string, Buffer>;
        try {
          files = readBundleDir(dir);
        } catch (error) {
          throw new CliError(CliErrorCode.LocalDocuments, `${dir} cannot be read: ${(error as Error).message}`);
        }
        const trustedKeys = values['trusted-keys'] === undefined ? undefined : readTrustedKeys(values['trusted-keys']);
        if (values.tombstone === undefined) {
          const report = verifyBundle(files, { trustedKeys });
          if (values.json) io.out(JSON.stringify(report, null, 2));
          else for (const line of formatBundleReport(dir, report)) io.out(line);
          return report.ok ? 0 : 1;
        }
        const tombstone = readTombstone(values.tombstone);
        const keys = trustedKeys ?? bundleKeys(files);
        const report = verifyArchive(files, tombstone, (keyId) => keys.get(keyId) ?? null, { trustedKeys });
        if (values.json) io.out(JSON.stringify(report, null, 2));
        else {
          for (const line of formatBundleReport(dir, report)) io.out(line);
          io.out(`  tombstone ${tombstone.tenantId} seq ${tombstone.fromSeq}..${tombstone.toSeq} (${tombstone.partition}, signed ${tombstone.signedAt})`);
          for (const p of report.tombstoneProblems) io.out(`  ${p.code}: ${p.detail}`);
        }
        return report.ok ? 0 : 1;
      }
      default:
        throw usage(`unknown command audit ${verb}`);
    }
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    io.err(error.message);
    if (error.code === CliErrorCode.Usage) io.err(`\n${AUDIT_USAGE}`);
    return exitCodeFor(error.code);
  }
}
