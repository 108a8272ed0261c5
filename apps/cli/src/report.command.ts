import { readFileSync, writeFileSync } from 'node:fs';
import { checkReportSignature, REPORT_SIGNATURE_FORMAT, type ReportRendering, type ReportSignature } from '@autoheal/evidence';
import { readTrustedKeys } from './audit-bundle.js';
import { CliError, CliErrorCode } from './cli.errors.js';
import type { Connection } from './connection.js';
import { AUDITOR_TARGET, interpretResponse, unreachableError } from './http.js';

// `autoheal report get` and `autoheal report verify`: a tenant's signed compliance report from the
// auditor, and the offline check of a saved one (auditor README, "Compliance reports").

/** Reports cover whole histories: the auditor may take a while. */
const REPORT_TIMEOUT_MS = 120_000;

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

/** Writes the report and its detached signature beside it (`<file>.sig.json`). */
export function writeSavedReport(file: string, report: FetchedReport): string {
  const signatureFile = `${file}.sig.json`;
  try {
    writeFileSync(file, report.body);
    writeFileSync(signatureFile, `${JSON.stringify(report.signature, null, 2)}\n`);
  } catch (error) {
    throw new CliError(CliErrorCode.LocalDocuments, `cannot write ${file}: ${(error as Error).message}`);
  }
  return signatureFile;
}
