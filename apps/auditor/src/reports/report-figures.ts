import { encodeCursor } from '../audit-log/audit-cursor.js';
import {
  COMPLIANCE_REPORT_FORMAT,
  CONTROLS,
  EVIDENCE_SEQ_LIMIT,
  FIGURE_CONTROLS,
  FIGURE_NAMES,
  TENANT_WIDE,
  type ComplianceReport,
  type Evidence,
  type Figure,
  type FigureName,
  type FigureValue,
  type ThresholdsInForce,
} from './compliance-report.js';

/**
 * From the facts the repository reads (one row per incident; counts per group; one row per listed
 * event) to the report's figures. Plain functions over data: the definitions live here, the SQL
 * only gathers.
 */

/** An incident as its incident.opened, first incident.resolved and first remediation.verified rows tell it. */
export interface IncidentFact {
  service: string;
  openedSeq: number;
  /** The incident.opened row's occurredAt. */
  openedAt: string;
  /** When the fault's signal happened (incident.opened data.signalAt): downtime starts here. */
  signalAt: string;
  detectionMs: number;
  resolvedSeq: number | null;
  /** incident.resolved data.resolvedAt. */
  resolvedAt: string | null;
  verifiedSeq: number | null;
  /** The first remediation.verified's data.timeToRemediateMs. */
  ttrMs: number | null;
}

/** Rows of one event type counted into one figure. */
export interface CountFact {
  name: 'actions' | 'refusals';
  service: string;
  key: string;
  eventType: string;
  rows: number;
  firstSeq: number;
  lastSeq: number;
  /** Every seq when rows ≤ EVIDENCE_SEQ_LIMIT, else null. */
  seqs: number[] | null;
}

/** One row listed as its own figure: a breach, an approval or rejection, a policy change. */
export interface ItemFact {
  name: 'breach' | 'approval' | 'policy_change';
  service: string;
  key: string;
  eventType: string;
  seq: number;
  values: Record<string, FigureValue>;
}

export interface ReportFacts {
  tenantId: string;
  from: Date;
  to: Date;
  throughSeq: number;
  generatedAt: Date;
  thresholds: ThresholdsInForce | null;
  incidents: IncidentFact[];
  counts: CountFact[];
  items: ItemFact[];
}

/** The step a remediation row records, as the report names it. */
export const ACTION_OUTCOMES: Record<string, string> = {
  'remediation.succeeded': 'executed',
  'remediation.failed': 'failed',
  'remediation.rolled_back': 'rolled_back',
  'remediation.verified': 'verified',
  'remediation.verification_failed': 'verification_failed',
};

/** Nearest rank: the smallest value with at least p % of the values at or below it. `sorted` ascending, not empty. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

function stats(values: number[]): { count: number; p50: number | null; p95: number | null; max: number | null } {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return { count: 0, p50: null, p95: null, max: null };
  return { count: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted[sorted.length - 1] };
}

/** Total length of the union of [start, end) intervals. */
export function unionLength(intervals: readonly (readonly [number, number])[]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [start, end] = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (const [s, e] of sorted) {
    if (s > end) {
      if (end > start) total += end - start;
      [start, end] = [s, e];
    } else if (e > end) end = e;
  }
  if (end > start) total += end - start;
  return total;
}

function auditLink(tenantId: string, eventType: string, firstSeq: number): string {
  return `/v1/tenants/${encodeURIComponent(tenantId)}/audit?type=${encodeURIComponent(eventType)}&cursor=${encodeCursor(firstSeq - 1)}`;
}

/**
 * Evidence from (event type, seq) pairs: one pass for the first and last seq and each type's first
 * row; the seqs are sorted only when they are listed (at most EVIDENCE_SEQ_LIMIT). A service's
 * availability covers every incident of the period (125,000 at a million rows), and sorting them
 * all, three times per service, was a tenth of the report's time in TypeScript.
 */
export function evidenceOf(tenantId: string, rows: readonly (readonly [string, number])[]): Evidence {
  let firstSeq = Number.POSITIVE_INFINITY;
  let lastSeq = Number.NEGATIVE_INFINITY;
  const firstOfType = new Map<string, number>();
  for (const [type, seq] of rows) {
    if (seq < firstSeq) firstSeq = seq;
    if (seq > lastSeq) lastSeq = seq;
    const first = firstOfType.get(type);
    if (first === undefined || seq < first) firstOfType.set(type, seq);
  }
  const links = [...firstOfType].sort((a, b) => a[1] - b[1]).map(([type, seq]) => auditLink(tenantId, type, seq));
  const listed = rows.length <= EVIDENCE_SEQ_LIMIT;
  return {
    rows: rows.length,
    firstSeq: rows.length > 0 ? firstSeq : null,
    lastSeq: rows.length > 0 ? lastSeq : null,
    seqs: listed ? rows.map(([, seq]) => seq).sort((a, b) => a - b) : null,
    links,
  };
}

function figure(service: string, name: FigureName, key: string, values: Record<string, FigureValue>, evidence: Evidence): Figure {
  return { service, name, key, values, controls: [...FIGURE_CONTROLS[name]], evidence };
}

function byServiceOrder(a: Figure, b: Figure): number {
  const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return (
    cmp(a.service, b.service) ||
    FIGURE_NAMES.indexOf(a.name) - FIGURE_NAMES.indexOf(b.name) ||
    cmp(a.key, b.key) ||
    (a.evidence.firstSeq ?? 0) - (b.evidence.firstSeq ?? 0)
  );
}

/** The report over `facts`. */
export function assembleReport(facts: ReportFacts): ComplianceReport {
  const { tenantId, thresholds } = facts;
  const fromMs = facts.from.getTime();
  const toMs = facts.to.getTime();
  const figures: Figure[] = [];
  const services = new Set<string>();

  // Availability: downtime is the union, per service, of its incidents' [signal, resolution) clipped to the period (open: to its end).
  const down = new Map<string, { intervals: [number, number][]; rows: [string, number][] }>();
  // Detection and time to remediate: over the incidents opened in the period.
  const opened = new Map<string, IncidentFact[]>();
  for (const incident of facts.incidents) {
    const start = Date.parse(incident.signalAt);
    const end = incident.resolvedAt === null ? toMs : Date.parse(incident.resolvedAt);
    if (start < toMs && end > fromMs) {
      const entry = down.get(incident.service) ?? { intervals: [], rows: [] };
      entry.intervals.push([Math.max(start, fromMs), Math.min(end, toMs)]);
      entry.rows.push(['incident.opened', incident.openedSeq]);
      if (incident.resolvedSeq !== null) entry.rows.push(['incident.resolved', incident.resolvedSeq]);
      down.set(incident.service, entry);
      services.add(incident.service);
    }
    const openedMs = Date.parse(incident.openedAt);
    if (openedMs >= fromMs && openedMs < toMs) {
      const list = opened.get(incident.service) ?? [];
      list.push(incident);
      opened.set(incident.service, list);
      services.add(incident.service);
    }
  }
  for (const c of facts.counts) services.add(c.service);
  for (const i of facts.items) if (i.service !== TENANT_WIDE) services.add(i.service);

  const periodMs = toMs - fromMs;
  for (const service of services) {
    const d = down.get(service) ?? { intervals: [], rows: [] };
    const downtimeMs = unionLength(d.intervals);
    const availability = (periodMs - downtimeMs) / periodMs;
    figures.push(
      figure(
        service,
        'availability',
        '',
        {
          target: thresholds?.availabilityTarget ?? null,
          availability,
          met: thresholds === null ? null : availability >= thresholds.availabilityTarget,
          downtimeMs,
          periodMs,
          incidents: d.intervals.length,
        },
        evidenceOf(tenantId, d.rows),
      ),
    );
    const incidents = opened.get(service) ?? [];
    figures.push(figure(service, 'detection_time', '', stats(incidents.map((i) => i.detectionMs)), evidenceOf(tenantId, incidents.map((i) => ['incident.opened', i.openedSeq]))));
    const verified = incidents.filter((i) => i.ttrMs !== null && i.verifiedSeq !== null);
    const threshold = thresholds?.maxTimeToRemediateMs ?? null;
    figures.push(
      figure(
        service,
        'time_to_remediate',
        '',
        {
          ...stats(verified.map((i) => i.ttrMs!)),
          threshold,
          overThreshold: threshold === null ? null : verified.filter((i) => i.ttrMs! > threshold).length,
          unverified: incidents.length - verified.length,
        },
        evidenceOf(tenantId, [...incidents.map((i): [string, number] => ['incident.opened', i.openedSeq]), ...verified.map((i): [string, number] => ['remediation.verified', i.verifiedSeq!])]),
      ),
    );
  }

  for (const c of facts.counts) {
    const links = [auditLink(tenantId, c.eventType, c.firstSeq)];
    figures.push(figure(c.service, c.name, c.key, { count: c.rows }, { rows: c.rows, firstSeq: c.firstSeq, lastSeq: c.lastSeq, seqs: c.seqs, links }));
  }
  for (const i of facts.items) figures.push(figure(i.service, i.name, i.key, i.values, evidenceOf(tenantId, [[i.eventType, i.seq]])));

  figures.sort(byServiceOrder);
  const listed = [...services];
  if (facts.items.some((i) => i.service === TENANT_WIDE)) listed.push(TENANT_WIDE);
  return {
    format: COMPLIANCE_REPORT_FORMAT,
    tenantId,
    from: facts.from.toISOString(),
    to: facts.to.toISOString(),
    throughSeq: facts.throughSeq,
    generatedAt: facts.generatedAt.toISOString(),
    thresholds,
    services: listed.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    figures,
    controls: { ...CONTROLS },
  };
}
