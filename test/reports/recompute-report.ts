/**
 * A second implementation of the compliance report's figures, written from their definitions in
 * apps/auditor/README.md ("Compliance reports") and sharing no code with the auditor's: it reads
 * only an export bundle's rows.jsonl (no database, no SQL) and walks them once in seq order. The
 * equality test holds the auditor's report to what this computes.
 */

interface Row {
  tenantId: string;
  seq: number;
  eventType: string;
  occurredAt: string;
  actor: string;
  correlationId: string | null;
  payload: { data?: Record<string, unknown> };
}

type Value = number | string | boolean | null;

export interface RecomputedFigure {
  service: string;
  name: string;
  key: string;
  values: Record<string, Value>;
  controls: string[];
  evidence: { rows: number; firstSeq: number | null; lastSeq: number | null; seqs: number[] | null; links: string[] };
}

/** Written out again from the README's control table, not imported. */
const CONTROLS_OF: Record<string, string[]> = {
  availability: ['GDPR 32(1)(b)', 'SOC2 CC7.5'],
  detection_time: ['HIPAA 164.312(b)', 'PCI DSS 10.7.2', 'SOC2 CC7.2', 'SOC2 CC7.3'],
  time_to_remediate: ['GDPR 32(1)(c)', 'PCI DSS 10.7.3', 'SOC2 CC7.4', 'SOC2 CC7.5'],
  actions: ['HIPAA 164.312(b)', 'PCI DSS 10.2.1', 'SOC2 CC7.4', 'SOC2 CC8.1'],
  refusals: ['GDPR 32(1)(b)', 'HIPAA 164.312(b)', 'PCI DSS 10.2.1', 'SOC2 CC8.1'],
  breach: ['GDPR 33(5)', 'PCI DSS 10.7.2', 'SOC2 CC7.3', 'SOC2 CC7.4'],
  approval: ['HIPAA 164.312(b)', 'PCI DSS 10.2.2', 'SOC2 CC8.1'],
  policy_change: ['GDPR 32(1)(d)', 'HIPAA 164.312(b)', 'PCI DSS 10.2.2', 'SOC2 CC8.1'],
};
const ORDER = ['availability', 'detection_time', 'time_to_remediate', 'actions', 'refusals', 'breach', 'approval', 'policy_change'];
const OUTCOME: Record<string, string> = {
  'remediation.succeeded': 'executed',
  'remediation.failed': 'failed',
  'remediation.rolled_back': 'rolled_back',
  'remediation.verified': 'verified',
  'remediation.verification_failed': 'verification_failed',
};
const SEQ_LIST_MAX = 100;

export function parseRows(rowsJsonl: string): Row[] {
  return rowsJsonl
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Row);
}

function link(tenantId: string, type: string, seq: number): string {
  const cursor = Buffer.from(`seq:${seq - 1}`).toString('base64url');
  return `/v1/tenants/${encodeURIComponent(tenantId)}/audit?type=${encodeURIComponent(type)}&cursor=${cursor}`;
}

function evidence(tenantId: string, pairs: { type: string; seq: number }[]) {
  const seqs = pairs.map((p) => p.seq).sort((a, b) => a - b);
  const firstByType: Record<string, number> = {};
  for (const p of pairs) firstByType[p.type] = Math.min(firstByType[p.type] ?? Infinity, p.seq);
  const links = Object.entries(firstByType)
    .sort((a, b) => a[1] - b[1])
    .map(([type, seq]) => link(tenantId, type, seq));
  return { rows: seqs.length, firstSeq: seqs.length ? seqs[0] : null, lastSeq: seqs.length ? seqs[seqs.length - 1] : null, seqs: seqs.length > SEQ_LIST_MAX ? null : seqs, links };
}

/** Nearest rank, by counting: the first value v with #(values ≤ v) ≥ p·n. */
function rank(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = values.slice().sort((a, b) => a - b);
  for (const v of sorted) if (sorted.filter((x) => x <= v).length >= (p / 100) * sorted.length) return v;
  return sorted[sorted.length - 1];
}

/** Downtime by a sweep over +1 / -1 edges: time during which at least one interval is open. */
function coveredMs(intervals: [number, number][]): number {
  const edges: [number, number][] = [];
  for (const [s, e] of intervals) if (e > s) edges.push([s, 1], [e, -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let since = 0;
  let total = 0;
  for (const [at, delta] of edges) {
    if (open === 0 && delta === 1) since = at;
    open += delta;
    if (open === 0 && delta === -1) total += at - since;
  }
  return total;
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const number = (v: unknown): number | null => (typeof v === 'number' ? v : null);

export function recomputeReport(rows: Row[], tenantId: string, from: string, to: string, throughSeq: number) {
  const fromMs = Date.parse(from);
  const toMs = Date.parse(to);
  const mine = rows.filter((r) => r.tenantId === tenantId && r.seq <= throughSeq).sort((a, b) => a.seq - b.seq);
  const inPeriod = (r: Row) => Date.parse(r.occurredAt) >= fromMs && Date.parse(r.occurredAt) < toMs;

  // Incidents, by id: first opening, first resolution, first verification.
  const incidents = new Map<string, { service: string; opened: Row; resolved?: Row; verified?: Row }>();
  const approvedRemediations = new Set<string>();
  let thresholds: { policyVersion: string; availabilityTarget: number; maxTimeToRemediateMs: number; seq: number } | null = null;
  for (const r of mine) {
    const d = r.payload.data ?? {};
    const id = r.correlationId;
    if (r.eventType === 'incident.opened' && id && !incidents.has(id)) incidents.set(id, { service: String(d.service), opened: r });
    if (r.eventType === 'incident.resolved' && id && incidents.has(id) && !incidents.get(id)!.resolved) incidents.get(id)!.resolved = r;
    if (r.eventType === 'remediation.verified' && id && incidents.has(id) && !incidents.get(id)!.verified) incidents.get(id)!.verified = r;
    if (r.eventType === 'remediation.approved') approvedRemediations.add(String(d.remediationId));
    const t = d.thresholds as { availabilityTarget: number; maxTimeToRemediateMs: number } | undefined;
    if (r.eventType === 'compliance.policy_changed' && t && typeof t === 'object' && Date.parse(r.occurredAt) < toMs) {
      thresholds = { policyVersion: String(d.policyVersion), availabilityTarget: t.availabilityTarget, maxTimeToRemediateMs: t.maxTimeToRemediateMs, seq: r.seq };
    }
  }
  // A resolution or verification recorded before its opening belongs to no incident the trail knows yet.
  for (const r of mine) {
    const id = r.correlationId;
    if (!id || !incidents.has(id)) continue;
    const i = incidents.get(id)!;
    if (r.eventType === 'incident.resolved' && (!i.resolved || r.seq < i.resolved.seq)) i.resolved = r;
    if (r.eventType === 'remediation.verified' && (!i.verified || r.seq < i.verified.seq)) i.verified = r;
  }

  const figures: RecomputedFigure[] = [];
  const services = new Set<string>();
  const perService = new Map<string, { down: [number, number][]; downRows: { type: string; seq: number }[]; opened: { service: string; opened: Row; resolved?: Row; verified?: Row }[] }>();
  const slot = (s: string) => {
    if (!perService.has(s)) perService.set(s, { down: [], downRows: [], opened: [] });
    return perService.get(s)!;
  };
  for (const i of incidents.values()) {
    const d = i.opened.payload.data ?? {};
    const start = Date.parse(String(d.signalAt));
    const end = i.resolved ? Date.parse(String(i.resolved.payload.data?.resolvedAt)) : toMs;
    if (start < toMs && end > fromMs) {
      const s = slot(i.service);
      s.down.push([Math.max(start, fromMs), Math.min(end, toMs)]);
      s.downRows.push({ type: 'incident.opened', seq: i.opened.seq });
      if (i.resolved) s.downRows.push({ type: 'incident.resolved', seq: i.resolved.seq });
      services.add(i.service);
    }
    if (inPeriod(i.opened)) {
      slot(i.service).opened.push(i);
      services.add(i.service);
    }
  }

  // Counted groups and listed rows.
  const groups = new Map<string, { service: string; name: string; key: string; type: string; seqs: number[] }>();
  const listed: RecomputedFigure[] = [];
  for (const r of mine.filter(inPeriod)) {
    const d = r.payload.data ?? {};
    const at = new Date(Date.parse(r.occurredAt)).toISOString();
    let group: { name: string; key: string } | null = null;
    if (OUTCOME[r.eventType]) {
      group = { name: 'actions', key: `${String(d.action)}/${approvedRemediations.has(String(d.remediationId)) ? 'approved' : 'automatic'}/${OUTCOME[r.eventType]}` };
    } else if (r.eventType === 'compliance.action_refused') {
      group = { name: 'refusals', key: String(d.rule) };
    }
    if (group) {
      const id = [d.service, group.name, group.key, r.eventType].join('\u0000');
      if (!groups.has(id)) groups.set(id, { service: String(d.service), ...group, type: r.eventType, seqs: [] });
      groups.get(id)!.seqs.push(r.seq);
      services.add(String(d.service));
      continue;
    }
    const one = (name: string, service: string, key: string, values: Record<string, Value>) => {
      listed.push({ service, name, key, values, controls: CONTROLS_OF[name], evidence: evidence(tenantId, [{ type: r.eventType, seq: r.seq }]) });
      if (service !== '*') services.add(service);
    };
    if (r.eventType === 'compliance.breach') {
      one('breach', text(d.service) ?? '*', text(d.rule) ?? '', { rule: text(d.rule), observed: number(d.observed), threshold: number(d.threshold), incidentId: text(d.incidentId), reason: text(d.reason), at });
    } else if (r.eventType === 'remediation.approved' || r.eventType === 'remediation.rejected') {
      one('approval', text(d.service) ?? '*', text(d.action) ?? '', {
        decision: r.eventType === 'remediation.approved' ? 'approved' : 'rejected',
        // The row's actor is the person who decided (the auditor records it from approvedBy / rejectedBy).
        by: r.actor,
        at,
        action: text(d.action),
        remediationId: text(d.remediationId),
        incidentId: text(d.incidentId),
      });
    } else if (r.eventType === 'compliance.policy_changed') {
      const t = (d.thresholds ?? {}) as Record<string, unknown>;
      one('policy_change', '*', text(d.policyVersion) ?? '', {
        version: text(d.policyVersion),
        previousVersion: text(d.previousVersion),
        by: r.actor,
        at,
        changed: ((d.changes as { path: string }[]) ?? []).map((c) => c.path).join(', '),
        availabilityTarget: number(t.availabilityTarget),
        maxTimeToRemediateMs: number(t.maxTimeToRemediateMs),
      });
    }
  }

  const period = toMs - fromMs;
  for (const service of services) {
    const s = perService.get(service) ?? { down: [], downRows: [], opened: [] };
    const downtimeMs = coveredMs(s.down);
    const availability = (period - downtimeMs) / period;
    figures.push({
      service,
      name: 'availability',
      key: '',
      values: {
        target: thresholds?.availabilityTarget ?? null,
        availability,
        met: thresholds ? availability >= thresholds.availabilityTarget : null,
        downtimeMs,
        periodMs: period,
        incidents: s.down.length,
      },
      controls: CONTROLS_OF.availability,
      evidence: evidence(tenantId, s.downRows),
    });
    const detection = s.opened.map((i) => Number(i.opened.payload.data?.detectionLatencyMs));
    figures.push({
      service,
      name: 'detection_time',
      key: '',
      values: { count: detection.length, p50: rank(detection, 50), p95: rank(detection, 95), max: detection.length ? Math.max(...detection) : null },
      controls: CONTROLS_OF.detection_time,
      evidence: evidence(tenantId, s.opened.map((i) => ({ type: 'incident.opened', seq: i.opened.seq }))),
    });
    const done = s.opened.filter((i) => i.verified);
    const ttr = done.map((i) => Number(i.verified!.payload.data?.timeToRemediateMs));
    const limit = thresholds?.maxTimeToRemediateMs ?? null;
    figures.push({
      service,
      name: 'time_to_remediate',
      key: '',
      values: {
        count: ttr.length,
        p50: rank(ttr, 50),
        p95: rank(ttr, 95),
        max: ttr.length ? Math.max(...ttr) : null,
        threshold: limit,
        overThreshold: limit === null ? null : ttr.filter((v) => v > limit).length,
        unverified: s.opened.length - done.length,
      },
      controls: CONTROLS_OF.time_to_remediate,
      evidence: evidence(tenantId, [...s.opened.map((i) => ({ type: 'incident.opened', seq: i.opened.seq })), ...done.map((i) => ({ type: 'remediation.verified', seq: i.verified!.seq }))]),
    });
  }
  for (const g of groups.values()) {
    figures.push({ service: g.service, name: g.name, key: g.key, values: { count: g.seqs.length }, controls: CONTROLS_OF[g.name], evidence: evidence(tenantId, g.seqs.map((seq) => ({ type: g.type, seq }))) });
  }
  figures.push(...listed);
  const codeUnits = (a: string, b: string) => (a === b ? 0 : a < b ? -1 : 1);
  figures.sort((a, b) => codeUnits(a.service, b.service) || ORDER.indexOf(a.name) - ORDER.indexOf(b.name) || codeUnits(a.key, b.key) || (a.evidence.firstSeq ?? 0) - (b.evidence.firstSeq ?? 0));
  const allServices = [...services];
  if (listed.some((f) => f.service === '*')) allServices.push('*');
  return {
    tenantId,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    throughSeq,
    thresholds,
    services: allServices.sort(codeUnits),
    figures,
  };
}
