import { DEFAULT_RULE_CONFIG, inMaintenance, resolveRuleConfig, ruleConfigIssues, ruleConfigOverrideSchema, ruleConfigSchema, rulesFileSchema } from './rule-config.js';
import type { MaintenanceWindow, RulesFile } from './rule.types.js';

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const issuesOf = (input: unknown): string[] => {
  const result = rulesFileSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('rule configuration', () => {
  describe('defaults', () => {
    it('pass their own schema, with no cross-field issue', () => {
      expect(ruleConfigSchema.safeParse(DEFAULT_RULE_CONFIG).success).toBe(true);
      expect(ruleConfigIssues(DEFAULT_RULE_CONFIG)).toEqual([]);
    });

    it('are what a service without any rules file or override gets', () => {
      expect(resolveRuleConfig(undefined, 'acme', 'api')).toBe(DEFAULT_RULE_CONFIG);
      expect(resolveRuleConfig({}, 'acme', 'api')).toEqual(DEFAULT_RULE_CONFIG);
      expect(issuesOf({})).toEqual([]);
    });

    it('cannot be changed by whoever holds them', () => {
      expect(Object.isFrozen(DEFAULT_RULE_CONFIG.errorRate)).toBe(true);
      expect(Object.isFrozen(DEFAULT_RULE_CONFIG.slo.alerts[0])).toBe(true);
    });
  });

  describe('a bad rules file is refused at load, naming where', () => {
    it.each<[string, unknown, string[]]>([
      ['a typo in a key of the file defaults', { defaults: { errorRate: { opne: 0.1 } } }, ['defaults.errorRate', '"opne"']],
      ['a typo in a tenant default', { tenants: { acme: { defaults: { latency: { percentil: 'p90' } } } } }, ['tenants.acme.defaults.latency', '"percentil"']],
      ['a typo in a service override', { tenants: { acme: { services: { api: { saturation: { cpu: { forMS: 1000 } } } } } } }, ['tenants.acme.services.api.saturation.cpu', '"forMS"']],
      ['a misspelt section', { defaults: { saturaton: { cpu: { open: 0.8 } } } }, ['defaults', '"saturaton"']],
      ['a value of the wrong type', { defaults: { errorRate: { open: 'high' } } }, ['defaults.errorRate.open']],
      ['an unknown severity inside an array', { tenants: { acme: { defaults: { slo: { alerts: [{ longWindowMs: 3_600_000, shortWindowMs: 300_000, burnRate: 14.4, severity: 'critcal' }] } } } } }, ['tenants.acme.defaults.slo.alerts.0.severity']],
      ['M above the 30-sample limit', { defaults: { latency: { m: 3, n: 31 } } }, ['defaults.latency.n']],
      ['resolve above open once merged', { tenants: { acme: { services: { api: { errorRate: { resolve: 0.1 } } } } } }, ['tenants.acme.services.api', 'errorRate: resolve (0.1) must not exceed open (0.05)']],
      ['open above major once merged', { defaults: { saturation: { cpu: { open: 0.97 } } } }, ['defaults', 'saturation.cpu: expected open ≤ major ≤ critical']],
      ['M greater than N', { defaults: { errorRate: { m: 6 } } }, ['defaults', 'errorRate: m (6) must not exceed n (5)']],
      ['an SLO short window not shorter than its long one', { defaults: { slo: { alerts: [{ longWindowMs: 600_000, shortWindowMs: 600_000, burnRate: 2, severity: 'minor' }] } } }, ['defaults', 'slo.alerts.0: shortWindowMs must be shorter']],
      ['anomaly k not above resolveK', { defaults: { anomaly: { resolveK: 6 } } }, ['defaults', 'anomaly: expected resolveK < k']],
      ['a trend resolve horizon shorter than the open horizon', { defaults: { trend: { resolveHorizonMs: 60_000 } } }, ['defaults', 'trend: resolveHorizonMs must be at least horizonMs']],
      ['an unknown key in a tenant', { tenants: { acme: { maintenence: [] } } }, ['tenants.acme', '"maintenence"']],
      ['a maintenance window that ends before it starts', { tenants: { acme: { maintenance: [{ from: '2026-03-01T11:00:00Z', to: '2026-03-01T10:00:00Z', reason: 'x' }] } } }, ['tenants.acme.maintenance.0', 'from must be before to']],
      ['a maintenance window for an instance without its service', { tenants: { acme: { maintenance: [{ instance: 'api-1', from: '2026-03-01T10:00:00Z', to: '2026-03-01T11:00:00Z', reason: 'x' }] } } }, ['tenants.acme.maintenance.0', 'an instance needs its service']],
    ])('%s', (_name, file, [path, ...inMessage]) => {
      // One issue at exactly that path, whose message says what is wrong.
      const issue = new RegExp(`^${[`${path}: `, ...inMessage].map(escapeRegExp).join('.*')}`);
      expect(issuesOf(file)).toEqual(expect.arrayContaining([expect.stringMatching(issue)]));
    });

    it('lists every problem at once', () => {
      const issues = issuesOf({ defaults: { errorRate: { opne: 0.1 } }, tenants: { acme: { services: { api: { checks: { failAfter: 0 } } } } } });
      expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(/^defaults\.errorRate: /), expect.stringMatching(/^tenants\.acme\.services\.api\.checks\.failAfter: /)]));
    });

    it('the override schema alone refuses a typo too (nested objects stay strict when every key is optional)', () => {
      const result = ruleConfigOverrideSchema.safeParse({ trend: { metrics: { memroy: { threshold: 0.8 } } } });
      expect(result.success).toBe(false);
      expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual(['trend.metrics']);
      expect(ruleConfigOverrideSchema.safeParse({ trend: { metrics: { memory: { threshold: 0.8 } } } }).success).toBe(true);
    });

    it('resolving a file that was never validated throws with the path of the problem', () => {
      const file: RulesFile = { tenants: { acme: { services: { api: { errorRate: { resolve: 0.5 } } } } } };
      expect(() => resolveRuleConfig(file, 'acme', 'api')).toThrow(/invalid rule configuration for acme.api[\s\S]*errorRate: resolve \(0\.5\) must not exceed open/);
    });
  });

  describe('overrides merge: built-in defaults ← file defaults ← tenant defaults ← service override', () => {
    const file: RulesFile = {
      defaults: { errorRate: { open: 0.06, minRequests: 50 }, checks: { severity: 'critical' } },
      tenants: {
        acme: {
          defaults: { errorRate: { open: 0.07, resolve: 0.03 }, latency: { percentile: 'p90' } },
          services: {
            api: { errorRate: { open: 0.08 }, slo: { alerts: [{ longWindowMs: 7_200_000, shortWindowMs: 600_000, burnRate: 10, severity: 'major' }] } },
          },
        },
        globex: { services: { web: { latency: { open: 800, resolve: 400 } } } },
      },
    };
    type Picked = { open: number; resolve: number; minRequests: number; percentile: string; checkSeverity: string; latencyOpen: number; sloAlerts: number };
    const pick = (tenant: string, service: string): Picked => {
      const c = resolveRuleConfig(file, tenant, service);
      return {
        open: c.errorRate.open,
        resolve: c.errorRate.resolve,
        minRequests: c.errorRate.minRequests,
        percentile: c.latency.percentile,
        checkSeverity: c.checks.severity,
        latencyOpen: c.latency.open,
        sloAlerts: c.slo.alerts.length,
      };
    };

    it.each<[string, string, string, Picked]>([
      [
        'the service override wins, the rest of its object comes from the tenant, the file and the built-ins',
        'acme',
        'api',
        { open: 0.08, resolve: 0.03, minRequests: 50, percentile: 'p90', checkSeverity: 'critical', latencyOpen: 1000, sloAlerts: 1 },
      ],
      ['another service of the tenant: tenant defaults over file defaults', 'acme', 'web', { open: 0.07, resolve: 0.03, minRequests: 50, percentile: 'p90', checkSeverity: 'critical', latencyOpen: 1000, sloAlerts: 2 }],
      ['a tenant without defaults: file defaults, then its service override', 'globex', 'web', { open: 0.06, resolve: 0.02, minRequests: 50, percentile: 'p99', checkSeverity: 'critical', latencyOpen: 800, sloAlerts: 2 }],
      ["another tenant's service of the same name is not overridden", 'globex', 'api', { open: 0.06, resolve: 0.02, minRequests: 50, percentile: 'p99', checkSeverity: 'critical', latencyOpen: 1000, sloAlerts: 2 }],
      ['a tenant not in the file: file defaults', 'initech', 'api', { open: 0.06, resolve: 0.02, minRequests: 50, percentile: 'p99', checkSeverity: 'critical', latencyOpen: 1000, sloAlerts: 2 }],
    ])('%s', (_name, tenant, service, expected) => {
      expect(pick(tenant, service)).toEqual(expected);
    });

    it('an array replaces, it does not merge item by item', () => {
      expect(resolveRuleConfig(file, 'acme', 'api').slo.alerts).toEqual([{ longWindowMs: 7_200_000, shortWindowMs: 600_000, burnRate: 10, severity: 'major' }]);
    });

    it('resolved configurations are shared and frozen: services without an override get the same object', () => {
      const a = resolveRuleConfig(file, 'acme', 'web');
      expect(resolveRuleConfig(file, 'acme', 'billing')).toBe(a);
      expect(resolveRuleConfig(file, 'acme', 'api')).not.toBe(a);
      expect(Object.isFrozen(a.errorRate)).toBe(true);
      expect(DEFAULT_RULE_CONFIG.errorRate.open).toBe(0.05);
    });

    it('the merged file passes the load-time check', () => {
      expect(issuesOf(file)).toEqual([]);
    });
  });

  describe('maintenance windows', () => {
    const at = (iso: string) => Date.parse(iso);
    const window = (w: Partial<MaintenanceWindow>): RulesFile => ({
      tenants: { acme: { maintenance: [{ from: '2026-03-01T10:00:00Z', to: '2026-03-01T11:00:00Z', reason: 'upgrade', ...w }] } },
    });

    it.each<[string, RulesFile | undefined, [tenant: string, service: string, instance: string, now: string], boolean]>([
      ['a tenant-wide window covers every service', window({}), ['acme', 'billing', 'b-7', '2026-03-01T10:30:00Z'], true],
      ['it starts at `from` (inclusive)', window({}), ['acme', 'api', 'api-1', '2026-03-01T10:00:00Z'], true],
      ['not a millisecond earlier', window({}), ['acme', 'api', 'api-1', '2026-03-01T09:59:59.999Z'], false],
      ['it ends at `to` (exclusive)', window({}), ['acme', 'api', 'api-1', '2026-03-01T11:00:00Z'], false],
      ['a service window covers that service', window({ service: 'api' }), ['acme', 'api', 'api-2', '2026-03-01T10:30:00Z'], true],
      ['not another service', window({ service: 'api' }), ['acme', 'web', 'web-1', '2026-03-01T10:30:00Z'], false],
      ['an instance window covers that instance', window({ service: 'api', instance: 'api-1' }), ['acme', 'api', 'api-1', '2026-03-01T10:30:00Z'], true],
      ['not its siblings', window({ service: 'api', instance: 'api-1' }), ['acme', 'api', 'api-2', '2026-03-01T10:30:00Z'], false],
      ['not another tenant', window({}), ['globex', 'api', 'api-1', '2026-03-01T10:30:00Z'], false],
      ['times with an offset are instants (11:00+01:00 is 10:00Z)', window({ from: '2026-03-01T11:00:00+01:00', to: '2026-03-01T12:00:00+01:00' }), ['acme', 'api', 'api-1', '2026-03-01T10:59:00Z'], true],
      ['no rules file: never in maintenance', undefined, ['acme', 'api', 'api-1', '2026-03-01T10:30:00Z'], false],
    ])('%s', (_name, file, [tenant, service, instance, now], expected) => {
      expect(inMaintenance(file, tenant, service, instance, at(now))).toBe(expected);
    });

    it('any one of several windows suffices', () => {
      const file: RulesFile = {
        tenants: {
          acme: {
            maintenance: [
              { service: 'web', from: '2026-03-01T10:00:00Z', to: '2026-03-01T11:00:00Z', reason: 'web upgrade' },
              { service: 'api', from: '2026-03-01T12:00:00Z', to: '2026-03-01T13:00:00Z', reason: 'api upgrade' },
            ],
          },
        },
      };
      expect(issuesOf(file)).toEqual([]);
      expect(inMaintenance(file, 'acme', 'api', 'api-1', at('2026-03-01T12:30:00Z'))).toBe(true);
      expect(inMaintenance(file, 'acme', 'api', 'api-1', at('2026-03-01T10:30:00Z'))).toBe(false);
    });
  });
});
