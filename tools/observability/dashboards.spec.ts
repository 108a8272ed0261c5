import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectorsIn } from './promql-selectors';
import { registeredSeries, unknownReferences } from './registered-metrics';

const DIR = join(__dirname, '../../deploy/grafana');

interface Panel {
  title?: string;
  type: string;
  panels?: Panel[];
  targets?: { expr?: string }[];
}

interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; query?: unknown; definition?: string }[] };
}

function panelsOf(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...panelsOf(p.panels ?? [])]);
}

/** Every PromQL expression of a dashboard, named by where it is: panel targets and query variables. */
function expressionsOf(d: Dashboard): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of panelsOf(d.panels)) for (const t of p.targets ?? []) if (t.expr) out.push({ where: `panel "${p.title}"`, expr: t.expr });
  for (const v of d.templating.list) {
    const m = /^label_values\((.+),\s*\w+\)$/.exec(v.definition ?? '');
    if (m) out.push({ where: `variable $${v.name}`, expr: m[1] });
  }
  return out;
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
const series = registeredSeries();

describe('Grafana dashboards (deploy/grafana)', () => {
  it('would name a metric nobody registers, or a label the metric does not have', () => {
    expect(unknownReferences(selectorsIn('sum(rate(autoheal_nothing_total[5m]))'), series)).toEqual(['autoheal_nothing_total is not a registered metric']);
    expect(unknownReferences(selectorsIn('autoheal_decision_service_availability_ratio{service="api"}'), series)).toEqual([]);
    expect(unknownReferences(selectorsIn('autoheal_outbox_pending_events{tenant="acme"}'), series)).toEqual(['autoheal_outbox_pending_events has no label tenant']);
  });

  it('are there, one uid each', () => {
    const uids = files.map((f) => (JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Dashboard).uid);
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(new Set(uids).size).toBe(uids.length);
  });

  it.each(files)('%s: every expression reads metrics (and labels) the services register', (file) => {
    const dashboard = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Dashboard;
    const expressions = expressionsOf(dashboard);
    expect(expressions.length).toBeGreaterThan(0);
    const problems = expressions.flatMap(({ where, expr }) => {
      const selectors = selectorsIn(expr);
      const found = selectors.length === 0 ? [`reads no metric`] : unknownReferences(selectors, series);
      return found.map((problem) => `${where}: ${problem} in ${expr}`);
    });
    expect(problems).toEqual([]);
  });

  it('cover what operators asked for: pipeline latency, incidents, remediations and verification, refusals, breakers, approvals, dead letters, outbox, auditor lag, availability', () => {
    const all = files.flatMap((f) => expressionsOf(JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Dashboard).flatMap((e) => selectorsIn(e.expr).map((s) => s.metric)));
    for (const metric of [
      'autoheal_detector_detection_latency_seconds_bucket',
      'autoheal_decision_decision_latency_seconds_bucket',
      'autoheal_executor_plan_to_executed_seconds_bucket',
      'autoheal_decision_verification_latency_seconds_bucket',
      'autoheal_decision_time_to_remediate_seconds_bucket',
      'autoheal_detector_incidents_opened_total',
      'autoheal_decision_remediation_outcomes_total',
      'autoheal_decision_verification_latency_seconds_count',
      'autoheal_decision_compliance_refusals_total',
      'autoheal_decision_breaker_open',
      'autoheal_decision_tenant_breaker_open',
      'autoheal_decision_pending_approvals',
      'autoheal_dead_letters_total',
      'autoheal_outbox_pending_events',
      'autoheal_auditor_consumer_lag_seconds',
      'autoheal_decision_service_availability_ratio',
      'autoheal_decision_availability_target_ratio',
    ]) {
      expect(all).toContain(metric);
    }
  });
});
