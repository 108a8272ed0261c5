import { createHash, type KeyObject } from 'node:crypto';
import { signBytes, verifyBytes, type SigningKey } from '@autoheal/security';
import { netstrings } from './row-hash.js';

/**
 * A compliance report's detached signature: Ed25519 by the auditor over the exact bytes served
 * (the JSON, CSV or HTML rendering), so whichever form an auditor files can be checked on its own.
 * The format and the rendering's media kind are signed with the bytes: a CSV's signature cannot
 * pass for an HTML page's, nor a report's for any other signed object of the auditor's.
 */
export const REPORT_SIGNATURE_FORMAT = 'autoheal.compliance-report.v1';

export const REPORT_RENDERINGS = ['json', 'csv', 'html'] as const;
export type ReportRendering = (typeof REPORT_RENDERINGS)[number];

export interface ReportSignature {
  format: typeof REPORT_SIGNATURE_FORMAT;
  rendering: ReportRendering;
  tenantId: string;
  /** sha256 of the signed bytes, hex: says which file the signature is for. */
  sha256: string;
  keyId: string;
  /** Ed25519 over reportSignedBytes, base64. */
  signature: string;
}

/** netstrings(format, rendering, tenant, sha256 of the body): the body enters through its hash so a verifier can stream a large file. */
export function reportSignedBytes(rendering: ReportRendering, tenantId: string, sha256: string): Buffer {
  return netstrings([REPORT_SIGNATURE_FORMAT, rendering, tenantId, sha256]);
}

export function signReport(key: SigningKey, rendering: ReportRendering, tenantId: string, body: Uint8Array | string): ReportSignature {
  const sha256 = createHash('sha256').update(body).digest('hex');
  return { format: REPORT_SIGNATURE_FORMAT, rendering, tenantId, sha256, keyId: key.keyId, signature: signBytes(key, reportSignedBytes(rendering, tenantId, sha256)) };
}

export type ReportSignatureProblem = 'not_a_report_signature' | 'body_mismatch' | 'unknown_key' | 'bad_signature';

/** Null when `signature` holds for `body` under a key `keys` trusts; otherwise why not. Never throws. */
export function checkReportSignature(body: Uint8Array | string, signature: unknown, keys: (keyId: string) => KeyObject | null): ReportSignatureProblem | null {
  const s = signature as Partial<ReportSignature> | null;
  if (
    !s ||
    typeof s !== 'object' ||
    s.format !== REPORT_SIGNATURE_FORMAT ||
    !REPORT_RENDERINGS.includes(s.rendering as ReportRendering) ||
    typeof s.tenantId !== 'string' ||
    typeof s.sha256 !== 'string' ||
    typeof s.keyId !== 'string' ||
    typeof s.signature !== 'string'
  ) {
    return 'not_a_report_signature';
  }
  if (createHash('sha256').update(body).digest('hex') !== s.sha256) return 'body_mismatch';
  const key = keys(s.keyId);
  if (!key) return 'unknown_key';
  return verifyBytes(key, reportSignedBytes(s.rendering as ReportRendering, s.tenantId, s.sha256), s.signature) ? null : 'bad_signature';
}
