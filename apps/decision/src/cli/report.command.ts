import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SUBJECT_TOKEN_PATTERN } from '@autoheal/contracts';
import { checkReportSignature, REPORT_RENDERINGS, REPORT_SIGNATURE_FORMAT, type ReportRendering, type ReportSignature } from '@autoheal/evidence';
import { AUDITOR_TARGET, interpretResponse, unreachableError } from './admin-client.js';
import { readTrustedKeys } from './audit.command.js';
import { auditorConnectionFrom, type Connection } from './cli-arguments.js';
import { CliError, CliErrorCode, exitCodeFor } from './cli.errors.js';
import type { CliIo } from './run-cli.js';

export const REPORT_USAGE = `usage: autoheal report <command>

  report --tenant <tenant> --from <time> --to <time> [--format json|csv|html] [--out <file>] [--auditor-url <url>]
        the tenant's compliance report for [from, to), signed by the auditor. With --out: the report
        in <file> and its detached signature in <file>.sig.json; without: the report on stdout.
  report verify <file> --trusted-keys <keys.json> [--signature <file.sig.json>]
        checks a saved report against its signature with no network: the bytes, the format and the
        tenant signed, and a key among --trusted-keys (GET /v1/audit/keys saved earlier, or a trust file).
Exit status: 0 done (verify: the signature holds), 1 refused, failed or not holding, 2 bad arguments.`;

const OPTIONS = {
  tenant: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  signature: { type: 'string' },
  'trusted-keys': { type: 'string' },
  'auditor-url': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = (message: string) => new CliError(CliErrorCode.Usage, message);

/** Reports cover whole histories: the auditor may take a while. */
const REPORT_TIMEOUT_MS = 120_000;

function instant(option: string, value: string | undefined): string {
  if (value === undefined) throw usage(`report needs --${option} <time>`);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw usage(`--${option} must be an RFC 3339 time with a zone, e.g. 2026-12-31T23:59:00Z`);
  }
  return new Date(value).toISOString();
}

export interface FetchedReport {
  body: string;
  signature: ReportSignature;
}

/** The report from the auditor, with the signature its headers carry. */
export async function fetchComplianceReport(
  connection: Connection,
  q: { tenantId: string; from: string; to: string; format: ReportRendering },
  timeoutMs = REPORT_TIMEOUT_MS,
): Promise<FetchedReport> {
  const path = `/v1/tenants/${encodeURIComponent(q.tenantId)}/reports/compliance?${new URLSearchParams({ from: q.from, to: q.to, format: q.format }).toString()}`;
  let response: Response;
  try {
    response = await fetch(`${connection.url}${path}`, { headers: { authorization: `Bearer ${connection.key}` }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw unreachableError(error, connection.url, timeoutMs, AUDITOR_TARGET);
  }
  const body = await response.text();
  if (response.status !== 200) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    interpretResponse(response.status, parsed, connection.url, AUDITOR_TARGET);
    throw new CliError(CliErrorCode.UnexpectedResponse, `the auditor answered HTTP ${response.status}`);
  }
  const keyId = response.headers.get('x-autoheal-report-key-id');
  const sha256 = response.headers.get('x-autoheal-report-sha256');
  const signature = response.headers.get('x-autoheal-report-signature');
  if (!keyId || !sha256 || !signature) throw new CliError(CliErrorCode.UnexpectedResponse, `${connection.url} answered without the report's signature headers; is it the auditor?`);
  return { body, signature: { format: REPORT_SIGNATURE_FORMAT, rendering: q.format, tenantId: q.tenantId, sha256, keyId, signature } };
}

/** Checks `file` against `signatureFile` under `trustedKeysFile`'s keys: a line saying what holds, and whether it does. */
export function verifySavedReport(file: string, signatureFile: string, trustedKeysFile: string): { ok: boolean; line: string } {
  let body: Buffer;
  let signature: unknown;
  try {
    body = readFileSync(file);
    signature = JSON.parse(readFileSync(signatureFile, 'utf8'));
  } catch (error) {
    throw new CliError(CliErrorCode.LocalDocuments, `cannot read ${file} and its signature ${signatureFile}: ${(error as Error).message}`);
  }
  const keys = readTrustedKeys(trustedKeysFile);
  const problem = checkReportSignature(body, signature, (id) => keys.get(id) ?? null);
  const s = signature as Partial<ReportSignature>;
  if (problem === null) return { ok: true, line: `signature holds: ${file} is the ${s.rendering} report of tenant ${s.tenantId}, signed by ${s.keyId}` };
  const why: Record<typeof problem, string> = {
    not_a_report_signature: `${signatureFile} is not a compliance report signature`,
    body_mismatch: `${file} is not the file that was signed (its sha256 differs)`,
    unknown_key: `signed by ${String(s.keyId)}, which is not among the trusted keys`,
    bad_signature: 'the signature does not match what it claims (rendering, tenant or hash changed)',
  };
  return { ok: false, line: `SIGNATURE DOES NOT HOLD: ${why[problem]}` };
}

/** `autoheal report …`: fetch a signed report from the auditor, or check a saved one with no network. */
export async function runReport(argv: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  try {
    let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
    try {
      parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    } catch (error) {
      throw usage((error as Error).message);
    }
    const { values, positionals } = parsed;
    if (values.help || positionals[0] === 'help' || argv.length === 0) {
      io.out(REPORT_USAGE);
      return 0;
    }
    if (positionals[0] === 'verify') {
      if (positionals.length !== 2) throw usage('report verify needs exactly one <file>');
      for (const option of ['tenant', 'from', 'to', 'format', 'out', 'auditor-url'] as const) if (values[option] !== undefined) throw usage(`report verify does not take --${option}`);
      if (!values['trusted-keys']) throw usage('report verify needs --trusted-keys <keys.json>');
      const file = positionals[1];
      const result = verifySavedReport(file, values.signature ?? `${file}.sig.json`, values['trusted-keys']);
      io.out(result.line);
      return result.ok ? 0 : 1;
    }
    if (positionals.length > 0) throw usage(`unknown command report ${positionals.join(' ')}`);
    for (const option of ['signature', 'trusted-keys'] as const) if (values[option] !== undefined) throw usage(`report does not take --${option} (report verify does)`);
    const tenantId = values.tenant;
    if (!tenantId || !SUBJECT_TOKEN_PATTERN.test(tenantId)) throw usage('report needs --tenant <tenant id>');
    const format = (values.format ?? 'json') as ReportRendering;
    if (!REPORT_RENDERINGS.includes(format)) throw usage(`--format must be one of ${REPORT_RENDERINGS.join(', ')}`);
    const from = instant('from', values.from);
    const to = instant('to', values.to);
    if (from >= to) throw usage('--from must be before --to');
    const report = await fetchComplianceReport(auditorConnectionFrom(values['auditor-url'], env), { tenantId, from, to, format });
    if (values.out === undefined) {
      io.out(report.body);
      return 0;
    }
    try {
      writeFileSync(values.out, report.body);
      writeFileSync(`${values.out}.sig.json`, `${JSON.stringify(report.signature, null, 2)}\n`);
    } catch (error) {
      throw new CliError(CliErrorCode.LocalDocuments, `cannot write ${values.out}: ${(error as Error).message}`);
    }
    io.out(`wrote ${values.out} (${format} report of tenant ${tenantId}, ${from} to ${to}) and its signature ${values.out}.sig.json (key ${report.signature.keyId})`);
    return 0;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    io.err(error.message);
    if (error.code === CliErrorCode.Usage) io.err(`\n${REPORT_USAGE}`);
    return exitCodeFor(error.code);
  }
}
