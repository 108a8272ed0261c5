import { canonicalJson } from '@autoheal/contracts';
import type { ReportRendering } from '@autoheal/evidence';
import { TENANT_WIDE, type ComplianceReport, type Figure, type FigureValue } from './compliance-report.js';

/**
 * The three renderings of a report. Each is signed as served (libs/evidence report-signature.ts),
 * so each is deterministic: the same report renders to the same bytes.
 */
export const REPORT_CONTENT_TYPES: Record<ReportRendering, string> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  html: 'text/html; charset=utf-8',
};

export function renderReport(report: ComplianceReport, rendering: ReportRendering): string {
  switch (rendering) {
    case 'json':
      return canonicalJson(report);
    case 'csv':
      return reportCsv(report);
    case 'html':
      return reportHtml(report);
    default: {
      const unreachable: never = rendering;
      throw new Error(`unknown rendering ${String(unreachable)}`);
    }
  }
}

// ---- CSV (RFC 4180): one line per figure and value ----

export const CSV_COLUMNS = ['service', 'figure', 'key', 'metric', 'value', 'controls', 'evidence_rows', 'first_seq', 'last_seq', 'seqs', 'links'] as const;

/**
 * A field quoted when it must be (comma, quote, line break), and a text that a spreadsheet would
 * run as a formula (= + - @, tab, carriage return first) led by an apostrophe: values come from
 * audit rows, which carry text from tenants and people.
 */
export function csvField(value: FigureValue | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvLine(fields: (FigureValue | undefined)[]): string {
  return `${fields.map(csvField).join(',')}\r\n`;
}

function reportCsv(report: ComplianceReport): string {
  let out = csvLine([...CSV_COLUMNS]);
  const header: [string, FigureValue][] = [
    ['format', report.format],
    ['tenantId', report.tenantId],
    ['from', report.from],
    ['to', report.to],
    ['throughSeq', report.throughSeq],
    ['generatedAt', report.generatedAt],
    ['policyVersion', report.thresholds?.policyVersion ?? null],
    ['availabilityTarget', report.thresholds?.availabilityTarget ?? null],
    ['maxTimeToRemediateMs', report.thresholds?.maxTimeToRemediateMs ?? null],
  ];
  const thresholdSeq = report.thresholds ? [1, report.thresholds.seq, report.thresholds.seq, String(report.thresholds.seq)] : [0, null, null, ''];
  for (const [metric, value] of header) out += csvLine([TENANT_WIDE, 'report', '', metric, value, '', ...thresholdSeq, '']);
  for (const f of report.figures) {
    for (const [metric, value] of Object.entries(f.values)) {
      out += csvLine([f.service, f.name, f.key, metric, value, f.controls.join(' '), f.evidence.rows, f.evidence.firstSeq, f.evidence.lastSeq, f.evidence.seqs?.join(' ') ?? '', f.evidence.links.join(' ')]);
    }
  }
  return out;
}

// ---- HTML: one printable page, no script, no external asset ----

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const h = (value: FigureValue | undefined) => escapeHtml(value === null || value === undefined ? '—' : String(value));

const STYLE = `body{font:13px/1.4 system-ui,sans-serif;margin:2em;color:#111}h1{font-size:20px}h2{font-size:16px;margin-top:2em;break-after:avoid}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eee}code{font-size:11px;word-break:break-all}.bad{color:#a00;font-weight:bold}dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em}
dt{font-weight:bold}@media print{body{margin:0}a{color:inherit;text-decoration:none}tr{break-inside:avoid}}`;

function valuesCell(f: Figure): string {
  return Object.entries(f.values)
    .map(([k, v]) => {
      const bad = (k === 'met' && v === false) || (k === 'overThreshold' && typeof v === 'number' && v > 0);
      return `<div${bad ? ' class="bad"' : ''}>${h(k)}: ${h(v)}</div>`;
    })
    .join('');
}

function evidenceCell(f: Figure): string {
  const e = f.evidence;
  if (e.rows === 0) return 'no rows';
  const seqs = e.seqs ? `seq ${e.seqs.join(', ')}` : `${e.rows} rows, seq ${e.firstSeq}…${e.lastSeq}`;
  return `${h(seqs)}${e.links.map((l) => `<div><code>${h(l)}</code></div>`).join('')}`;
}

function reportHtml(r: ComplianceReport): string {
  const t = r.thresholds;
  const services = r.services
    .map((service) => {
      const rows = r.figures
        .filter((f) => f.service === service)
        .map((f) => `<tr><td>${h(f.name)}</td><td>${h(f.key)}</td><td>${valuesCell(f)}</td><td>${h(f.controls.join(', '))}</td><td>${evidenceCell(f)}</td></tr>`)
        .join('\n');
      return `<h2>${service === TENANT_WIDE ? 'Tenant-wide' : `Service ${h(service)}`}</h2>
<table><thead><tr><th>Figure</th><th>Of</th><th>Values</th><th>Controls</th><th>Evidence rows</th></tr></thead><tbody>
${rows}
</tbody></table>`;
    })
    .join('\n');
  const controls = Object.entries(r.controls)
    .map(([id, text]) => `<tr><td>${h(id)}</td><td>${h(text)}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Compliance report ${h(r.tenantId)} ${h(r.from)} to ${h(r.to)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>${STYLE}</style></head>
<body>
<h1>Compliance report: tenant ${h(r.tenantId)}</h1>
<dl><dt>Period</dt><dd>${h(r.from)} to ${h(r.to)} (end excluded)</dd>
<dt>Audit rows</dt><dd>up to seq ${h(r.throughSeq)}</dd>
<dt>Generated</dt><dd>${h(r.generatedAt)}</dd>
<dt>Thresholds</dt><dd>${t ? `availability target ${h(t.availabilityTarget)}, time to remediate ${h(t.maxTimeToRemediateMs)} ms (policy ${h(t.policyVersion)}, seq ${h(t.seq)})` : 'none recorded in the trail'}</dd>
<dt>Format</dt><dd>${h(r.format)}; signed (Ed25519, detached) by the auditor: check with <code>autoheal report verify</code></dd></dl>
${services || '<p>No recorded event in the period.</p>'}
<h2>Controls</h2>
<table><thead><tr><th>Control</th><th>What it asks for</th></tr></thead><tbody>
${controls}
</tbody></table>
</body></html>
`;
}
