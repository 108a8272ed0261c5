import type { IncidentKind, RemediationAction } from '@autoheal/contracts';
import { effectiveProfile, FRAMEWORKS, PRESETS, type Framework, type ProfileThresholds } from './compliance-presets.js';
import { evaluatePolicy, GuardrailRule, NO_POLICY_VERSION, type PolicyDecision, type PolicyInput } from './evaluate-policy.js';
import { documentVersion, type TenantDocument } from './tenant-document.js';

const NOW = Date.parse('2026-11-21T12:00:00.000Z');
const MIN = 60_000;

/** api: api-eu (eu-west-1, dedicated), api-us (us-east-1, dedicated), api-shared (eu-west-1, shared). */
function documentOf(frameworks: Framework[], extra: Partial<TenantDocument> = {}): TenantDocument {
  return {
    apiVersion: 'autoheal/v1',
    tenantId: 'acme',
    frameworks,
    inventory: {
      services: [
        {
          service: 'api',
          instances: [
            { instance: 'api-eu', region: 'eu-west-1', zone: 'eu-west-1a', pool: 'dedicated' },
            { instance: 'api-us', region: 'us-east-1', zone: 'us-east-1a', pool: 'dedicated' },
            { instance: 'api-shared', region: 'eu-west-1', zone: 'eu-west-1b', pool: 'shared' },
          ],
          standbyRegions: ['eu-central-1'],
          throttle: { limitPerSecond: 100, ttlMs: 60_000 },
        },
      ],
    },
    ...extra,
  };
}

interface Case {
  frameworks?: Framework[];
  doc?: Partial<TenantDocument>;
  profile?: Partial<ProfileThresholds>;
  kind?: IncidentKind;
  instance?: string;
  severity?: 'critical' | 'major' | 'minor';
  state?: Partial<PolicyInput['state']>;
  suspected?: boolean;
  noTenant?: boolean;
  now?: number;
}

function inputOf(c: Case): PolicyInput {
  const frameworks = c.frameworks ?? ['GDPR'];
  const document = documentOf(frameworks, c.doc);
  const profile = { ...effectiveProfile(frameworks, document.overrides), ...c.profile };
  return {
    incident: {
      incidentId: '01936b2e-0000-7000-8000-000000000001',
      kind: c.kind ?? 'crashed',
      severity: c.severity ?? 'critical',
      service: 'api',
      instance: c.instance ?? 'api-eu',
      openedAt: NOW - 5_000,
      ...(c.suspected ? { suspectedCause: 'detector_or_network' as const } : {}),
    },
    tenant: c.noTenant ? null : { document, profile, version: documentVersion(document) },
    state: { autoActionsInLastHour: 0, inFlightOnService: 0, serviceInstanceCount: 3, breakerOpen: false, previousAttempts: [], ...c.state },
    now: c.now ?? NOW,
  };
}

type Expect =
  | { kind: 'plan'; action: RemediationAction; emergency?: boolean; dryRun?: boolean }
  | { kind: 'await_approval'; action: RemediationAction; expiresAt: number }
  | { kind: 'escalate'; rule?: GuardrailRule; reason: RegExp }
  | { kind: 'hold'; rule: GuardrailRule; reason: RegExp };

function check(decision: PolicyDecision, expected: Expect): void {
  expect(decision.kind).toBe(expected.kind);
  switch (expected.kind) {
    case 'plan':
      if (decision.kind !== 'plan') return;
      expect(decision.action).toBe(expected.action);
      expect(decision.emergency).toBe(expected.emergency ?? false);
      expect(decision.dryRun).toBe(expected.dryRun ?? false);
      return;
    case 'await_approval':
      if (decision.kind !== 'await_approval') return;
      expect(decision.action).toBe(expected.action);
      expect(decision.expiresAt).toBe(expected.expiresAt);
      return;
    case 'escalate':
      if (decision.kind !== 'escalate') return;
      expect(decision.explanation.reason).toMatch(expected.reason);
      if (expected.rule) {
        expect(decision.refusals.length).toBeGreaterThan(0);
        expect(decision.refusals[0].rule).toBe(expected.rule);
        expect(decision.refusals[0].reason).toMatch(expected.reason);
      }
      expect(decision.explanation.candidates.every((x) => !x.allowed)).toBe(true);
      return;
    case 'hold':
      if (decision.kind !== 'hold') return;
      expect(decision.rule).toBe(expected.rule);
      expect(decision.explanation.reason).toMatch(expected.reason);
      return;
  }
}

const FREEZE = { start: '2026-11-21T00:00:00Z', end: '2026-11-22T00:00:00Z', reason: 'release freeze' };

/** For every guardrail: one case it lets through and one it stops, with the reason it gives. */
const guardrails: { rule: GuardrailRule; allows: [Case, Expect]; refuses: [Case, Expect] }[] = [
  {
    rule: GuardrailRule.Residency,
    allows: [{ frameworks: ['GDPR'], kind: 'predicted', instance: 'api-eu' }, { kind: 'plan', action: 'replace' }],
    refuses: [
      { frameworks: ['GDPR'], kind: 'predicted', instance: 'api-us' },
      { kind: 'escalate', rule: GuardrailRule.Residency, reason: /residency \(GDPR\): replace would place workload in us-east-1, outside the allowed regions eu-central-1/ },
    ],
  },
  {
    rule: GuardrailRule.Isolation,
    allows: [{ frameworks: ['HIPAA'], kind: 'predicted', instance: 'api-eu' }, { kind: 'plan', action: 'replace' }],
    refuses: [
      { frameworks: ['HIPAA'], kind: 'predicted', instance: 'api-shared' },
      { kind: 'escalate', rule: GuardrailRule.Isolation, reason: /isolation \(HIPAA\): replace would place workload on a shared pool/ },
    ],
  },
  {
    rule: GuardrailRule.ApprovalRequired,
    allows: [{ frameworks: ['GDPR'], kind: 'error_rate' }, { kind: 'plan', action: 'rollback' }],
    refuses: [{ frameworks: ['SOC2'], kind: 'error_rate' }, { kind: 'await_approval', action: 'rollback', expiresAt: NOW + PRESETS.SOC2.approvalTimeoutMs }],
  },
  {
    rule: GuardrailRule.ChangeFreeze,
    // The default crashed playbook marks restart as an emergency: it runs, flagged as such.
    allows: [{ frameworks: ['GDPR'], kind: 'crashed', doc: { changeFreezes: [FREEZE] } }, { kind: 'plan', action: 'restart', emergency: true }],
    refuses: [
      { frameworks: ['PCI_DSS'], kind: 'error_rate', doc: { changeFreezes: [FREEZE] } },
      { kind: 'escalate', rule: GuardrailRule.ChangeFreeze, reason: /change_freeze \(PCI_DSS\): a change freeze holds until 2026-11-22T00:00:00Z \(release freeze\)/ },
    ],
  },
  {
    rule: GuardrailRule.HourlyCap,
    allows: [{ frameworks: ['GDPR'], state: { autoActionsInLastHour: 5 } }, { kind: 'plan', action: 'restart' }],
    refuses: [
      { frameworks: ['GDPR'], state: { autoActionsInLastHour: 6 } },
      { kind: 'escalate', rule: GuardrailRule.HourlyCap, reason: /max_auto_actions_per_hour \(GDPR\): the tenant's limit of 6 automatic actions per hour is reached \(6 in the last hour\)/ },
    ],
  },
  {
    rule: GuardrailRule.Cooldown,
    // Third action in a row: 60 s × 2² = 240 s must have passed.
    allows: [{ frameworks: ['GDPR'], state: { lastActionOnTarget: { at: NOW - 4 * MIN, consecutive: 3 } } }, { kind: 'plan', action: 'restart' }],
    refuses: [
      { frameworks: ['GDPR'], state: { lastActionOnTarget: { at: NOW - 4 * MIN + 1, consecutive: 3 } } },
      { kind: 'escalate', rule: GuardrailRule.Cooldown, reason: /cooldown \(GDPR\): 3 action\(s\) in a row on api\/api-eu.*cooldown 60s × 2\^2/ },
    ],
  },
  {
    rule: GuardrailRule.ServiceConcurrency,
    // GDPR: half of 4 instances = 2 at once.
    allows: [{ frameworks: ['GDPR'], state: { serviceInstanceCount: 4, inFlightOnService: 1 } }, { kind: 'plan', action: 'restart' }],
    refuses: [
      { frameworks: ['GDPR'], state: { serviceInstanceCount: 4, inFlightOnService: 2 } },
      { kind: 'escalate', rule: GuardrailRule.ServiceConcurrency, reason: /service_concurrency \(GDPR\): 2 remediation\(s\) already in flight on api; at most 2 of its 4 instance\(s\) \(50%\)/ },
    ],
  },
  {
    rule: GuardrailRule.CircuitBreaker,
    allows: [{ frameworks: ['GDPR'], state: { breakerOpen: false } }, { kind: 'plan', action: 'restart' }],
    refuses: [{ frameworks: ['GDPR'], state: { breakerOpen: true } }, { kind: 'hold', rule: GuardrailRule.CircuitBreaker, reason: /circuit_breaker: the circuit breaker is open; autoheal stays stopped until a human resumes it/ }],
  },
  {
    rule: GuardrailRule.ActionNotAllowed,
    allows: [{ frameworks: ['GDPR'], doc: { overrides: { autoActions: ['restart'], approvalActions: [] } }, kind: 'crashed' }, { kind: 'plan', action: 'restart' }],
    refuses: [
      { frameworks: ['GDPR'], doc: { overrides: { autoActions: ['restart'], approvalActions: [] } }, kind: 'predicted' },
      { kind: 'escalate', rule: GuardrailRule.ActionNotAllowed, reason: /action_not_allowed \(tenant override\): replace is neither automatic nor approvable/ },
    ],
  },
  {
    rule: GuardrailRule.NoProfile,
    allows: [{ frameworks: ['GDPR'] }, { kind: 'plan', action: 'restart' }],
    refuses: [{ noTenant: true }, { kind: 'escalate', reason: /no_profile: the tenant has no document/ }],
  },
  {
    rule: GuardrailRule.MaintenanceWindow,
    // The window ends (exclusive) at 12:00: at 12:00 the policy acts again.
    allows: [{ frameworks: ['GDPR'], doc: { maintenanceWindows: [{ start: '2026-11-21T10:00:00Z', end: '2026-11-21T12:00:00Z' }] } }, { kind: 'plan', action: 'restart' }],
    refuses: [
      { frameworks: ['GDPR'], doc: { maintenanceWindows: [{ start: '2026-11-21T10:00:00Z', end: '2026-11-21T12:00:00.001Z', reason: 'upgrade' }] } },
      { kind: 'hold', rule: GuardrailRule.MaintenanceWindow, reason: /maintenance_window \(GDPR\): the tenant is in a maintenance window until 2026-11-21T12:00:00.001Z \(upgrade\)/ },
    ],
  },
];

describe('evaluatePolicy: every guardrail allows one case and refuses another', () => {
  it('covers every rule', () => {
    expect(guardrails.map((g) => g.rule).sort()).toEqual(Object.values(GuardrailRule).sort());
  });

  describe.each(guardrails)('$rule', ({ allows, refuses }) => {
    it('allows', () => check(evaluatePolicy(inputOf(allows[0])), allows[1]));
    it('refuses', () => check(evaluatePolicy(inputOf(refuses[0])), refuses[1]));
  });
});

/** For every framework preset: one case its thresholds allow and one they refuse, naming the framework. */
const presets: { framework: Framework; allows: [Case, Expect]; refuses: [Case, Expect] }[] = [
  {
    framework: 'HIPAA',
    allows: [{ frameworks: ['HIPAA'], kind: 'saturation', instance: 'api-us' }, { kind: 'plan', action: 'scale_out' }],
    refuses: [
      { frameworks: ['HIPAA'], kind: 'saturation', instance: 'api-shared' },
      { kind: 'escalate', rule: GuardrailRule.Isolation, reason: /isolation \(HIPAA\): scale_out would place workload on a shared pool/ },
    ],
  },
  {
    framework: 'PCI_DSS',
    allows: [{ frameworks: ['PCI_DSS'], kind: 'latency' }, { kind: 'plan', action: 'scale_out' }],
    refuses: [{ frameworks: ['PCI_DSS'], kind: 'predicted' }, { kind: 'await_approval', action: 'replace', expiresAt: NOW + PRESETS.PCI_DSS.approvalTimeoutMs }],
  },
  {
    framework: 'GDPR',
    allows: [{ frameworks: ['GDPR'], kind: 'saturation', instance: 'api-shared' }, { kind: 'plan', action: 'scale_out' }],
    refuses: [
      { frameworks: ['GDPR'], kind: 'saturation', instance: 'api-us' },
      { kind: 'escalate', rule: GuardrailRule.Residency, reason: /residency \(GDPR\): scale_out would place workload in us-east-1/ },
    ],
  },
  {
    framework: 'SOC2',
    allows: [{ frameworks: ['SOC2'], kind: 'predicted', instance: 'api-us' }, { kind: 'plan', action: 'replace' }],
    refuses: [{ frameworks: ['SOC2'], kind: 'slo_burn' }, { kind: 'await_approval', action: 'rollback', expiresAt: NOW + PRESETS.SOC2.approvalTimeoutMs }],
  },
];

describe('evaluatePolicy: every framework preset allows one case and refuses another', () => {
  it('covers every framework', () => expect(presets.map((p) => p.framework)).toEqual([...FRAMEWORKS]));

  describe.each(presets)('$framework', ({ allows, refuses }) => {
    it('allows', () => check(evaluatePolicy(inputOf(allows[0])), allows[1]));
    it('refuses', () => check(evaluatePolicy(inputOf(refuses[0])), refuses[1]));
  });

  it('refuses an approval-only action with the framework that requires approval named', () => {
    const decision = evaluatePolicy(inputOf({ frameworks: ['PCI_DSS'], kind: 'predicted' }));
    expect(decision.explanation.reason).toMatch(/replace awaits approval \(approval_required: PCI_DSS\)/);
  });

  describe.each(FRAMEWORKS.map((f) => [f, PRESETS[f].maxAutoActionsPerHour] as const))('%s hourly cap of %i', (framework, cap) => {
    // Restart only: under PCI DSS the default fallback (replace) needs approval, which the cap of automatic actions does not gate.
    const doc = { playbooks: { crashed: { candidates: [{ action: 'restart' as const }] } } };
    it('allows the last action under the cap', () => check(evaluatePolicy(inputOf({ frameworks: [framework], doc, state: { autoActionsInLastHour: cap - 1 } })), { kind: 'plan', action: 'restart' }));
    it('refuses at the cap, naming the framework', () =>
      check(evaluatePolicy(inputOf({ frameworks: [framework], doc, state: { autoActionsInLastHour: cap } })), {
        kind: 'escalate',
        rule: GuardrailRule.HourlyCap,
        reason: new RegExp(`max_auto_actions_per_hour \\(${framework}\\): the tenant's limit of ${cap} `),
      }));
  });
});

describe('evaluatePolicy: playbooks, fallbacks and explanations', () => {
  it('plans the first allowed candidate and keeps the other allowed ones as fallbacks', () => {
    const decision = evaluatePolicy(inputOf({ frameworks: ['GDPR'], kind: 'crashed' }));
    expect(decision).toMatchObject({ kind: 'plan', action: 'restart', fallbacks: ['replace'] });
    expect(decision.explanation.candidates).toEqual([
      { action: 'restart', allowed: true, reason: expect.stringMatching(/allowed automatically/) as string },
      { action: 'replace', allowed: true, reason: expect.stringMatching(/kept as a fallback after restart/) as string },
    ]);
    expect(decision.explanation.policyVersion).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(decision.explanation.inputs).toMatchObject({ concurrencyLimit: 2, frameworks: ['GDPR'], state: { autoActionsInLastHour: 0 } });
  });

  it('skips a refused candidate and plans the next one, listing the refusal', () => {
    const decision = evaluatePolicy(
      inputOf({
        frameworks: ['GDPR'],
        kind: 'saturation',
        instance: 'api-us',
        doc: { playbooks: { saturation: { candidates: [{ action: 'replace' }, { action: 'throttle' }] } } },
      }),
    );
    expect(decision).toMatchObject({ kind: 'plan', action: 'throttle', fallbacks: [], refusals: [{ rule: GuardrailRule.Residency, action: 'replace' }] });
    expect(decision.explanation.reason).toMatch(/refused first: replace \(residency\)/);
  });

  it('moves on to the fallback after the first action was tried', () => {
    const decision = evaluatePolicy(inputOf({ frameworks: ['GDPR'], kind: 'crashed', state: { previousAttempts: ['restart'] } }));
    expect(decision).toMatchObject({ kind: 'plan', action: 'replace', fallbacks: [] });
    expect(decision.explanation.candidates[0]).toEqual({ action: 'restart', allowed: false, reason: 'restart was already tried for this incident' });
  });

  it('applies candidate conditions: severity, scope and previous attempts', () => {
    const playbooks = { crashed: { candidates: [{ action: 'replace' as const, when: { minSeverity: 'major' as const, scope: 'instance' as const } }, { action: 'restart' as const, when: { maxPreviousAttempts: 0 } }] } };
    expect(evaluatePolicy(inputOf({ frameworks: ['GDPR'], severity: 'critical', doc: { playbooks } }))).toMatchObject({ kind: 'plan', action: 'replace', fallbacks: ['restart'] });
    const minor = evaluatePolicy(inputOf({ frameworks: ['GDPR'], severity: 'minor', doc: { playbooks } }));
    expect(minor).toMatchObject({ kind: 'plan', action: 'restart' });
    expect(minor.explanation.candidates[0].reason).toMatch(/from severity major; the incident is minor/);
    const service = evaluatePolicy(inputOf({ frameworks: ['GDPR'], instance: '*', doc: { playbooks } }));
    expect(service.explanation.candidates[0].reason).toMatch(/instance-scoped incidents; this one is service-scoped/);
    const second = evaluatePolicy(inputOf({ frameworks: ['GDPR'], severity: 'minor', doc: { playbooks }, state: { previousAttempts: ['throttle'] } }));
    expect(second.kind).toBe('escalate');
    expect(second.explanation.candidates[1].reason).toMatch(/after at most 0 earlier attempts; 1 were made/);
  });

  it('marks plans dry run for the tenant, the playbook or the candidate', () => {
    expect(evaluatePolicy(inputOf({ doc: { dryRun: true } }))).toMatchObject({ kind: 'plan', dryRun: true });
    expect(evaluatePolicy(inputOf({ doc: { playbooks: { crashed: { dryRun: true, candidates: [{ action: 'restart' }] } } } }))).toMatchObject({ kind: 'plan', dryRun: true });
    const candidate = evaluatePolicy(inputOf({ doc: { playbooks: { crashed: { candidates: [{ action: 'restart', dryRun: true }] } } } }));
    expect(candidate).toMatchObject({ kind: 'plan', dryRun: true });
    expect(candidate.explanation.reason).toMatch(/dry run \(candidate\): recorded, not executed/);
    expect(evaluatePolicy(inputOf({ doc: { dryRun: false } }))).toMatchObject({ kind: 'plan', dryRun: false });
  });

  it('holds an incident marked as a suspected detector or network fault', () => {
    check(evaluatePolicy(inputOf({ suspected: true })), { kind: 'hold', rule: GuardrailRule.CircuitBreaker, reason: /suspected detector_or_network fault/ });
  });

  it('holds rather than escalates a tenant without document while the breaker is open', () => {
    expect(evaluatePolicy(inputOf({ noTenant: true, state: { breakerOpen: true } })).kind).toBe('hold');
    expect(evaluatePolicy(inputOf({ noTenant: true })).explanation.policyVersion).toBe(NO_POLICY_VERSION);
  });

  it('refuses placement on a target the inventory does not declare when regions are restricted', () => {
    check(evaluatePolicy(inputOf({ frameworks: ['GDPR'], kind: 'predicted', instance: 'ghost-1' })), {
      kind: 'escalate',
      rule: GuardrailRule.Residency,
      reason: /api\/ghost-1 is not in the tenant's inventory/,
    });
  });

  it('fails over only to allowed standby regions, and not at all without one', () => {
    const playbooks = { crashed: { candidates: [{ action: 'failover' as const }] } };
    const api = documentOf([]).inventory.services[0];
    const runbook = { kind: 'runbook' as const, url: 'https://runbooks.example/heal', secretRef: 'ACME_RUNBOOK_SECRET' };
    const inventory = (extra: object) => ({ services: [{ ...api, runtime: runbook, ...extra }] });
    const allowed = evaluatePolicy(inputOf({ frameworks: [], doc: { playbooks, inventory: inventory({}) } }));
    expect(allowed).toMatchObject({ kind: 'plan', action: 'failover', execution: { runtime: runbook, parameters: { toRegion: 'eu-central-1' } } });
    const outside = evaluatePolicy(inputOf({ frameworks: [], doc: { playbooks, inventory: inventory({}), overrides: { allowedRegions: ['eu-west-1'] } } }));
    expect(outside.kind === 'escalate' && outside.refusals[0]).toMatchObject({ rule: GuardrailRule.Residency, reason: expect.stringMatching(/failover would place workload in eu-central-1/) as string });
    const none = evaluatePolicy(inputOf({ frameworks: [], doc: { playbooks, inventory: inventory({ standbyRegions: [] }) } }));
    expect(none.explanation.candidates[0].reason).toMatch(/no standby region/);
  });

  it('plans only what the target’s runtime can carry out, with the parameters the executor needs', () => {
    const playbooks = { crashed: { candidates: [{ action: 'failover' as const }, { action: 'throttle' as const }, { action: 'rollback' as const }] } };
    const api = documentOf([]).inventory.services[0];
    // The agent (the default) fails over to the declared standby region, through the agent keeping
    // the standby there; it can throttle at the declared limit.
    const onAgent = evaluatePolicy(inputOf({ frameworks: [], doc: { playbooks } }));
    expect(onAgent).toMatchObject({ kind: 'plan', action: 'failover', execution: { runtime: { kind: 'agent' }, parameters: { toRegion: 'eu-central-1' } } });
    const throttled = evaluatePolicy(inputOf({ frameworks: [], doc: { playbooks: { crashed: { candidates: playbooks.crashed.candidates.slice(1) } } } }));
    expect(throttled).toMatchObject({ kind: 'plan', action: 'throttle', fallbacks: ['rollback'], execution: { runtime: { kind: 'agent' }, parameters: { limitPerSecond: 100, ttlMs: 60_000 } } });
    // Kubernetes cannot throttle (that lives in the SDK): rollback to the previous revision.
    const kubernetes = { kind: 'kubernetes' as const, namespace: 'prod', workload: 'Deployment' as const, name: 'api' };
    const onKubernetes = evaluatePolicy(inputOf({ frameworks: [], doc: { playbooks, inventory: { services: [{ ...api, runtime: kubernetes }] } } }));
    expect(onKubernetes).toMatchObject({ kind: 'plan', action: 'rollback', fallbacks: [], execution: { runtime: kubernetes, parameters: { toRelease: 'previous' } } });
    // No throttle limit declared: throttle cannot apply anywhere.
    const { throttle: _limit, ...unlimited } = api;
    const noLimit = evaluatePolicy(inputOf({ frameworks: [], doc: { playbooks, inventory: { services: [unlimited] } } }));
    expect(noLimit.explanation.candidates[1]).toEqual({ action: 'throttle', allowed: false, reason: 'not applicable: the inventory declares no throttle limit for api' });
    // The playbook's verify deadline travels with the plan.
    const verified = evaluatePolicy(inputOf({ frameworks: [], doc: { playbooks: { crashed: { candidates: [{ action: 'restart' }], verify: { deadlineMs: 5_000 } } } } }));
    expect(verified).toMatchObject({ kind: 'plan', execution: { verify: { deadlineMs: 5_000 } } });
  });

  it('applies the concurrency floor of one instance and rounds the share up', () => {
    expect(evaluatePolicy(inputOf({ profile: { maxConcurrentShare: 0.01 }, state: { serviceInstanceCount: 3, inFlightOnService: 0 } })).kind).toBe('plan');
    expect(evaluatePolicy(inputOf({ profile: { maxConcurrentShare: 0.01 }, state: { serviceInstanceCount: 3, inFlightOnService: 1 } })).kind).toBe('escalate');
    // 0.1 × 30 is 3.0000000000000004 in floating point: still 3.
    expect(evaluatePolicy(inputOf({ profile: { maxConcurrentShare: 0.1 }, state: { serviceInstanceCount: 30, inFlightOnService: 3 } })).kind).toBe('escalate');
    expect(evaluatePolicy(inputOf({ profile: { maxConcurrentShare: 0.1 }, state: { serviceInstanceCount: 30, inFlightOnService: 2 } })).kind).toBe('plan');
  });

  it('keeps explanation inputs JSON-safe, even with an unbounded backoff', () => {
    const decision = evaluatePolicy(inputOf({ state: { lastActionOnTarget: { at: NOW - 1, consecutive: 5000 } } }));
    expect(decision.kind).toBe('escalate');
    expect(JSON.parse(JSON.stringify(decision.explanation.inputs))).toEqual(decision.explanation.inputs);
    expect(decision.explanation.inputs.cooldownUntil).toBeNull();
    expect(decision.explanation.reason).toMatch(/only after a human intervenes/);
  });
});
