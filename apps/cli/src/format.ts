import { CliErrorCode, type ApiDocumentError, type CliError } from './cli.errors.js';
import type { DocumentSource } from './documents.js';
import type {
  ApplyResult,
  AuditItem,
  AuditVerification,
  BacktestLine,
  BacktestReport,
  Change,
  IncidentItem,
  PendingApproval,
  RemediationItem,
  ReviewSummary,
  TenantDiff,
  TenantListItem,
  Timeline,
  WireApiKey,
  WireBreaker,
  WireTenantBreaker,
  WireTenantVersion,
} from './wire.js';


/** Columns padded to their widest cell, two spaces apart. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd());
}

/** A value on one line, cut to `max` characters. */
export function compact(value: unknown, max = 80): string {
  const s = value === undefined ? 'undefined' : JSON.stringify(value);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** `+ path: to`, `- path: from`, `~ path: from → to`; `values: false` prints the path only. */
export function formatChange(change: Change, values = true): string {
  const sign = change.from === undefined ? '+' : change.to === undefined ? '-' : '~';
  if (!values) return `${sign} ${change.path}`;
  switch (sign) {
    case '+':
      return `+ ${change.path}: ${compact(change.to)}`;
    case '-':
      return `- ${change.path}: ${compact(change.from)}`;
    case '~':
      return `~ ${change.path}: ${compact(change.from)} → ${compact(change.to)}`;
  }
}

/**
 * One block per tenant: outcome, version and what changed. A created tenant lists the fields it
 * was created with (their values are the file itself); an update shows each leaf from → to.
 */
export function formatApplyResults(results: ApplyResult[]): string[] {
  const idWidth = Math.max(0, ...results.map((r) => r.tenantId.length));
  const lines: string[] = [];
  for (const r of results) {
    const was = r.outcome === 'updated' && r.previousVersion ? `  (was ${r.previousVersion})` : '';
    lines.push(`${r.tenantId.padEnd(idWidth)}  ${r.outcome.padEnd(9)}  ${r.version}${was}`);
    for (const change of r.changes) lines.push(`    ${formatChange(change, r.outcome !== 'created')}`);
  }
  const count = (o: ApplyResult['outcome']) => results.filter((r) => r.outcome === o).length;
  lines.push(`${results.length} document(s): ${count('created')} created, ${count('updated')} updated, ${count('unchanged')} unchanged`);
  return lines;
}

function where(source: DocumentSource | undefined): string {
  if (!source) return '';
  return source.count > 1 ? `  (${source.file}, document ${source.position} of ${source.count})` : `  (${source.file})`;
}

/** Every error as `documents[i].path: message`, followed by the file it came from when known. */
export function formatDocumentErrors(errors: ApiDocumentError[], sources?: readonly DocumentSource[] | null): string[] {
  return errors.map((e) => {
    const at = e.path === '(root)' || e.path === '' ? `documents[${e.document}]` : `documents[${e.document}].${e.path}`;
    return `  ${at}: ${e.message}${where(sources?.[e.document])}`;
  });
}

export function formatTenantList(items: TenantListItem[]): string[] {
  if (items.length === 0) return ['no tenants'];
  return table(
    ['TENANT', 'VERSION', 'APPLIED BY', 'UPDATED', 'NAME'],
    items.map((t) => [t.tenantId, t.version, t.appliedBy, t.updatedAt, t.displayName ?? '']),
  );
}

export function formatVersions(tenantId: string, page: { items: WireTenantVersion[]; next: number | null }): string[] {
  if (page.items.length === 0) return [`${tenantId} has no versions`];
  const lines = table(
    ['SEQ', 'VERSION', 'APPLIED AT', 'APPLIED BY', 'CHANGES'],
    page.items.map((v) => [String(v.seq), v.version, v.appliedAt, v.appliedBy, v.previousVersion === null ? 'created' : String(v.changes.length)]),
  );
  if (page.next !== null) lines.push('… older versions not shown (raise --limit, at most 100)');
  return lines;
}

export function formatDiff(tenantId: string, diff: TenantDiff): string[] {
  const head = `${tenantId}: ${diff.from} → ${diff.to}`;
  if (diff.changes.length === 0) return [head, '  no changes'];
  return [head, ...diff.changes.map((c) => `  ${formatChange(c)}`)];
}

const DRY_RUN = ' (dry run)';

/** `plan restart`, `await approval of replace`, `escalate to a human`, `hold` — with `(dry run)` when it would not run. */
export function describeDecision(d: { decision: string; action: string | null }): string {
  const dryRun = d.decision.endsWith(DRY_RUN);
  const kind = dryRun ? d.decision.slice(0, -DRY_RUN.length) : d.decision;
  const action = d.action ?? '';
  const text = ((): string => {
    switch (kind) {
      case 'plan':
        return `plan ${action}`;
      case 'await_approval':
        return `await approval of ${action}`;
      case 'escalate':
        return 'escalate to a human';
      case 'hold':
        return 'hold';
      default:
        return `${kind} ${action}`;
    }
  })();
  return `${text.trim()}${dryRun ? DRY_RUN : ''}`;
}

function shortVersion(version: string): string {
  return version.startsWith('sha256:') ? version.slice(0, 'sha256:'.length + 12) : version;
}

function formatLine(line: BacktestLine): string[] {
  const head = `${line.openedAt}  ${line.kind} on ${line.target}  (incident ${line.incidentId})`;
  if (!line.changed) return [`${head}: ${describeDecision(line.then)}, unchanged`];
  return [
    head,
    `  then       ${describeDecision(line.then)}  [${shortVersion(line.then.policyVersion)}]`,
    `             ${line.then.reason}`,
    `  candidate  ${describeDecision(line.candidate)}  [${shortVersion(line.candidate.policyVersion)}]`,
    `             ${line.candidate.reason}`,
  ];
}

/**
 * The backtest incident by incident: each decision the candidate would take differently, with
 * both reasons; unchanged ones only with `all`.
 */
export function formatBacktest(report: BacktestReport, options: { all: boolean; since?: Date }): string[] {
  const window = options.since ? ` decided since ${options.since.toISOString()}` : '';
  const lines = [
    `backtest of ${report.tenantId} against candidate ${report.candidateVersion}`,
    `${report.replayed} past decision(s)${window} replayed: ${report.changed} would change, ${report.replayed - report.changed} would not` +
      (report.skipped > 0 ? `; ${report.skipped} could not be replayed (decided before incident facts were stored)` : ''),
  ];
  const shown = report.lines.filter((l) => options.all || l.changed);
  for (const line of shown) lines.push('', ...formatLine(line));
  return lines;
}

export function formatReview(summary: ReviewSummary): string[] {
  return [`remediation ${summary.remediationId} (incident ${summary.incidentId}): ${summary.status}${summary.action ? `, action ${summary.action}` : ''}`, `  ${summary.reason}`];
}

/** The global breaker, then each tenant breaker that ever opened (open ones first, as the service lists them). */
export function formatBreaker(state: WireBreaker & { tenants?: WireTenantBreaker[] }): string[] {
  const lines: string[] = [];
  if (state.open) {
    lines.push(
      `breaker: OPEN since ${state.openedAt ?? '(unknown)'}: no automatic action runs until a human resumes`,
      `  reason: ${state.reason ?? '(none recorded)'}`,
      '  resume: npx autoheal breaker resume --reason <why it is safe>',
    );
  } else {
    const last = state.resumedAt ? ` (last resumed ${state.resumedAt} by ${state.resumedBy ?? 'unknown'})` : '';
    lines.push(`breaker: closed: automatic actions run${last}`);
  }
  for (const t of state.tenants ?? []) {
    if (t.open) {
      lines.push(
        `tenant ${t.tenantId}: OPEN since ${t.openedAt ?? '(unknown)'}: no automatic action of this tenant runs until a human resumes`,
        `  reason: ${t.reason ?? '(none recorded)'}`,
        `  resume: npx autoheal breaker resume --tenant ${t.tenantId} --reason <why it is safe>`,
      );
    } else {
      lines.push(`tenant ${t.tenantId}: closed${t.resumedAt ? ` (last resumed ${t.resumedAt} by ${t.resumedBy ?? 'unknown'})` : ''}`);
    }
  }
  return lines;
}

export function formatResume(result: WireBreaker & { resumed: boolean; tenantId?: string }): string[] {
  const which = result.tenantId === undefined ? 'breaker' : `tenant ${result.tenantId}'s breaker`;
  const resumes = result.tenantId === undefined ? 'automatic actions resume' : "the tenant's automatic actions resume";
  return result.resumed ? [`${which} closed by ${result.resumedBy ?? 'unknown'} at ${result.resumedAt ?? '?'}: ${resumes}`] : [`${which} was not open; nothing changed`];
}

/** What goes to stderr for a failed command. */
export function formatError(error: CliError): string[] {
  const lines = [`error: ${error.message}`];
  switch (error.code) {
    case CliErrorCode.InvalidDocuments: {
      const errors = error.details.documentErrors ?? [];
      lines[0] = `error: ${error.message} (${errors.length} error${errors.length === 1 ? '' : 's'})`;
      lines.push(...formatDocumentErrors(errors, error.details.sources));
      break;
    }
    case CliErrorCode.Usage:
    case CliErrorCode.NoKey:
    case CliErrorCode.LocalDocuments:
    case CliErrorCode.Unreachable:
    case CliErrorCode.NotIntact:
    case CliErrorCode.Unauthorized:
    case CliErrorCode.Forbidden:
    case CliErrorCode.BadRequest:
    case CliErrorCode.NotFound:
    case CliErrorCode.Conflict:
    case CliErrorCode.UnexpectedResponse:
      lines.push(...(error.details.lines ?? []).map((l) => `  ${l}`));
      break;
    default: {
      const unreachable: never = error.code;
      throw new Error(`unformatted cli error ${String(unreachable)}`);
    }
  }
  return lines;
}

/** One key as listed (never a secret). */
export function formatApiKey(key: WireApiKey): string {
  const scope = key.tenantScope === '*' ? 'every tenant' : key.tenantScope.join(',');
  const state = key.revokedAt ? `revoked ${key.revokedAt}` : key.expiresAt ? `expires ${key.expiresAt}` : 'active';
  return `${key.id}  ${key.subject}  ${key.roles.join(',')}  ${scope}  ${state}  (${key.label})`;
}

export function formatApiKeyPage(page: { items: WireApiKey[]; next: string | null }): string[] {
  if (page.items.length === 0) return ['no API keys'];
  return [...page.items.map(formatApiKey), ...(page.next ? [`more: npx autoheal api-keys list --after ${page.next}`] : [])];
}

export function formatCreatedApiKey(created: WireApiKey & { key: string }): string[] {
  return [`created ${formatApiKey(created)}`, `key: ${created.key}`, 'store the key now: it is not stored anywhere and cannot be shown again'];
}

/** `… more: <command> --cursor <c>` under a page that has one. */
function more(next: string | null, command: string): string[] {
  return next ? [`more: ${command} --cursor ${next}`] : [];
}

export function formatAuditPage(tenantId: string, page: { items: AuditItem[]; nextCursor: string | null }): string[] {
  if (page.items.length === 0) return [`no audit rows for ${tenantId}`];
  return [
    ...table(
      ['SEQ', 'OCCURRED', 'TYPE', 'ACTOR', 'ACTION', 'OUTCOME', 'INCIDENT'],
      page.items.map((r) => [String(r.seq), r.occurredAt, r.eventType, r.actor, r.action, r.outcome, r.correlationId ?? '-']),
    ),
    ...more(page.nextCursor, `npx autoheal audit list ${tenantId}`),
  ];
}

export function formatAuditVerification(v: AuditVerification): string[] {
  const lines = [
    `${v.ok ? 'intact' : 'NOT INTACT'}: tenant ${v.tenantId}, rows ${v.fromSeq + 1}..${v.headSeq} checked (${v.checkedRows} rows${v.full ? ', from the first row' : ', after the last verified point'})`,
    `  head ${v.headSeq} ${v.headHash}`,
    `  checkpoints: matched up to ${v.checkpointedSeq}, latest ${v.latestCheckpointSeq ?? 'none'}, external copy ${v.externalCheckpoints}`,
  ];
  if (v.firstBreak) {
    const b = v.firstBreak;
    lines.push(`  first break: ${b.reason} at seq ${b.seq}${b.lastSeq !== null && b.lastSeq !== b.seq ? ` to ${b.lastSeq}` : ''}: ${b.detail}`);
  }
  return lines;
}

export function formatIncidentPage(tenantId: string, page: { items: IncidentItem[]; nextCursor: string | null }): string[] {
  if (page.items.length === 0) return [`no incidents for ${tenantId}`];
  return [
    ...table(
      ['INCIDENT', 'OPENED', 'STATUS', 'KIND', 'SEVERITY', 'TARGET', 'RESOLVED'],
      page.items.map((i) => [i.incidentId, i.openedAt, i.status, i.kind, i.severity, `${i.service}/${i.instance}`, i.resolvedAt ? `${i.resolvedAt}${i.resolveReason ? ` (${i.resolveReason})` : ''}` : '-']),
    ),
    ...more(page.nextCursor, `npx autoheal incidents list ${tenantId}`),
  ];
}

function ms(value: number | null): string {
  if (value === null) return '-';
  return value < 1000 ? `${value} ms` : `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} s`;
}

/** An incident from first signal to verification, one line per recorded event with the time since the previous one. */
export function formatTimeline(t: Timeline): string[] {
  const lines = [
    `incident ${t.incidentId} (${t.tenantId}): ${t.kind ?? '?'} on ${t.service ?? '?'}/${t.instance ?? '?'}, ${t.status}`,
    `  signal ${t.signalAt ?? '-'}  opened ${t.openedAt}  detection ${ms(t.detectionMs)}`,
    `  verified ${t.verifiedAt ?? '-'}  opened→verified ${ms(t.openedToVerifiedMs)}  resolved ${t.resolvedAt ?? '-'}`,
    '',
    ...table(
      ['SEQ', 'OCCURRED', '+PREV', '+OPENED', 'EVENT', 'ACTOR', 'ACTION', 'OUTCOME'],
      t.entries.map((e) => [String(e.seq), e.occurredAt, ms(e.sincePreviousMs), ms(e.sinceOpenedMs), e.eventType, e.actor, e.action, e.outcome]),
    ),
  ];
  if (t.truncated) lines.push('… truncated: the incident has more rows than one timeline returns (npx autoheal audit list --correlation-id <incident>)');
  return lines;
}

export function formatRemediationPage(tenantId: string, page: { items: RemediationItem[]; nextCursor: string | null }): string[] {
  if (page.items.length === 0) return [`no remediations for ${tenantId}`];
  return [
    ...table(
      ['REMEDIATION', 'STARTED', 'UPDATED', 'STATUS', 'OUTCOME', 'ACTION', 'TARGET', 'INCIDENT'],
      page.items.map((r) => [r.remediationId, r.startedAt, r.updatedAt, r.status, r.outcome, r.action ?? '-', `${r.service}/${r.instance}`, r.incidentId]),
    ),
    ...more(page.nextCursor, `npx autoheal remediations list ${tenantId}`),
  ];
}

export function formatPendingApprovals(tenantId: string, page: { items: PendingApproval[]; nextCursor: string | null }): string[] {
  if (page.items.length === 0) return [`nothing of ${tenantId} awaits approval`];
  const lines: string[] = [];
  for (const a of page.items) {
    lines.push(`${a.remediationId}  ${a.action} on ${a.service}/${a.instance}  requested ${a.requestedAt}, lapses ${a.expiresAt}`, `  incident ${a.incidentId}: ${a.reason}`);
  }
  lines.push(...more(page.nextCursor, `npx autoheal approvals list ${tenantId}`));
  return lines;
}
