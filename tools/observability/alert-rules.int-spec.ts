import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { selectorsIn } from './promql-selectors';
import { registeredSeries, unknownReferences } from './registered-metrics';

// Plain CommonJS, shared with `npm test`'s own step: finds promtool or fetches Debian's.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensurePromtool } = require('../infra/ensure-promtool.js') as { ensurePromtool: (options?: { log?: (line: string) => void }) => string };

const ROOT = join(__dirname, '..', '..');
const PROMETHEUS = join(ROOT, 'deploy', 'prometheus');
const RULES = join(PROMETHEUS, 'autoheal.rules.yml');
const TESTS = join(PROMETHEUS, 'autoheal.rules.test.yml');
const GRAFANA = join(ROOT, 'deploy', 'grafana');

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}

let promtool: string;

/** Runs promtool; the test fails with everything it printed when it exits non-zero. */
function runPromtool(args: string[], cwd = PROMETHEUS): string {
  const result = spawnSync(promtool, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`promtool ${args.join(' ')} exited with ${result.status}:\n${output}`);
  return output;
}

describe('Prometheus alert rules (deploy/prometheus), checked by promtool', () => {
  beforeAll(() => {
    promtool = ensurePromtool({ log: (line) => process.stderr.write(`${line}\n`) });
  }, 300_000);

  it('parse, and their unit tests pass (`promtool test rules`)', () => {
    expect(runPromtool(['check', 'rules', RULES])).toMatch(/SUCCESS/);
    expect(runPromtool(['test', 'rules', TESTS])).toMatch(/SUCCESS/);
  });

  it('the example scrape configuration is valid and names the jobs the rules expect', () => {
    expect(runPromtool(['check', 'config', join(PROMETHEUS, 'prometheus.yml')])).toMatch(/SUCCESS/);
    const config = parse(readFileSync(join(PROMETHEUS, 'prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string }[] };
    expect(config.scrape_configs.map((c) => c.job_name).sort()).toEqual(['autoheal-auditor', 'autoheal-decision', 'autoheal-detector', 'autoheal-executor']);
  });

  it('every rule reads metrics (and labels) the services register, and every alert has a test', () => {
    const rules = (parse(readFileSync(RULES, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules);
    const series = registeredSeries();
    const problems = rules.flatMap((r) => unknownReferences(selectorsIn(r.expr), series).map((p) => `${r.alert ?? r.record}: ${p}`));
    expect(problems).toEqual([]);
    const tested = new Set(
      (parse(readFileSync(TESTS, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] }).tests.flatMap((t) =>
        (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
      ),
    );
    expect(rules.filter((r) => r.alert && !tested.has(r.alert)).map((r) => r.alert)).toEqual([]);
  });

  it('every dashboard expression is valid PromQL', () => {
    // Grafana's variables replaced by what they stand for, each expression a recording rule: promtool parses them all.
    const expressions = readdirSync(GRAFANA)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => {
        const text = readFileSync(join(GRAFANA, f), 'utf8');
        return [...text.matchAll(/"expr": "((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);
      })
      .map((e) => e.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?\w+\}?/g, '.*'));
    expect(expressions.length).toBeGreaterThan(20);
    const dir = mkdtempSync(join(tmpdir(), 'dashboards-promql-'));
    try {
      const file = join(dir, 'dashboards.rules.yml');
      writeFileSync(file, stringify({ groups: [{ name: 'dashboards', rules: expressions.map((expr, i) => ({ record: `dashboard:expr_${i}`, expr })) }] }));
      expect(runPromtool(['check', 'rules', file], dir)).toMatch(new RegExp(`SUCCESS: ${expressions.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
