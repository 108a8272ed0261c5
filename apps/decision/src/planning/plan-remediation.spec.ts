import type { TenantProfile } from '../tenants/tenant-profile.js';
import { ComplianceRule, planRemediation, type PlanDecision, type PlanInput } from './plan-remediation.js';

const now = new Date('2025-06-01T12:00:00.000Z');
const incident = { kind: 'heartbeat_missed' as const, service: 'api', instance: 'api-1' };

function profile(overrides: Partial<TenantProfile> = {}): TenantProfile {
  return {
    tenantId: 'acme',
    frameworks: ['HIPAA'],
    maxAutoActionsPerHour: 3,
    autoActions: ['restart'],
    services: [{ service: 'api', instances: ['api-1'] }],
    ...overrides,
  };
}

type Expected =
  | { kind: 'plan'; action: 'restart' }
  | { kind: 'escalate'; rule?: ComplianceRule; candidates: { action: string; allowed: boolean }[] };

const cases: { name: string; input: Omit<PlanInput, 'now' | 'incident'>; expected: Expected }[] = [
  { name: 'allowed, nothing else this hour', input: { profile: profile(), actionsInLastHour: 0 }, expected: { kind: 'plan', action: 'restart' } },
  { name: 'allowed, one below the cap', input: { profile: profile({ maxAutoActionsPerHour: 3 }), actionsInLastHour: 2 }, expected: { kind: 'plan', action: 'restart' } },
  {
    name: 'cap reached exactly',
    input: { profile: profile({ maxAutoActionsPerHour: 3 }), actionsInLastHour: 3 },
    expected: { kind: 'escalate', rule: ComplianceRule.MaxAutoActionsPerHour, candidates: [{ action: 'restart', allowed: false }] },
  },
  {
    name: 'cap exceeded (counted by an older policy)',
    input: { profile: profile({ maxAutoActionsPerHour: 1 }), actionsInLastHour: 5 },
    expected: { kind: 'escalate', rule: ComplianceRule.MaxAutoActionsPerHour, candidates: [{ action: 'restart', allowed: false }] },
  },
  {
    name: 'a cap of zero forbids every automatic action',
    input: { profile: profile({ maxAutoActionsPerHour: 0 }), actionsInLastHour: 0 },
    expected: { kind: 'escalate', rule: ComplianceRule.MaxAutoActionsPerHour, candidates: [{ action: 'restart', allowed: false }] },
  },
  {
    name: 'action not allowed automatically',
    input: { profile: profile({ autoActions: [] }), actionsInLastHour: 0 },
    expected: { kind: 'escalate', rule: ComplianceRule.ActionNotAllowed, candidates: [{ action: 'restart', allowed: false }] },
  },
  {
    name: 'action not allowed wins over the cap (the action is refused whatever the count)',
    input: { profile: profile({ autoActions: ['scale_out'], maxAutoActionsPerHour: 1 }), actionsInLastHour: 1 },
    expected: { kind: 'escalate', rule: ComplianceRule.ActionNotAllowed, candidates: [{ action: 'restart', allowed: false }] },
  },
  {
    name: 'unknown tenant: no profile, nothing automatic, no compliance rule invoked',
    input: { profile: null, actionsInLastHour: 0 },
    expected: { kind: 'escalate', rule: undefined, candidates: [{ action: 'restart', allowed: false }] },
  },
];

describe('planRemediation', () => {
  it.each(cases)('$name', ({ input, expected }) => {
    const decision: PlanDecision = planRemediation({ ...input, incident, now });
    expect(decision.kind).toBe(expected.kind);
    if (expected.kind === 'plan') {
      expect(decision).toMatchObject({ kind: 'plan', action: expected.action });
      expect(decision.candidates).toEqual([{ action: 'restart', allowed: true, reason: expect.any(String) as string }]);
      return;
    }
    if (decision.kind !== 'escalate') throw new Error('expected an escalation');
    expect(decision.refusal?.rule).toBe(expected.rule);
    expect(decision.candidates.map(({ action, allowed }) => ({ action, allowed }))).toEqual(expected.candidates);
    expect(decision.reason).toMatch(/escalating .* to a human/);
    if (decision.refusal) {
      expect(decision.refusal.action).toBe('restart');
      expect(decision.reason).toContain(decision.refusal.reason);
    }
  });

  it('names the limit and the count when the cap refuses', () => {
    const decision = planRemediation({ incident, now, profile: profile({ maxAutoActionsPerHour: 2, frameworks: ['PCI DSS'] }), actionsInLastHour: 2 });
    expect(decision).toMatchObject({ kind: 'escalate', refusal: { rule: 'max_auto_actions_per_hour' } });
    expect(decision.reason).toMatch(/limit of 2 automatic actions per hour \(PCI DSS\) is reached \(2 in the last hour\)/);
  });

  it('takes the first allowed action of the playbook and records every candidate', () => {
    const decision = planRemediation({
      incident,
      now,
      profile: profile({ autoActions: ['restart'] }),
      actionsInLastHour: 0,
      // Two steps, so that preference and refusal of a later step are both visible.
      playbook: { heartbeat_missed: ['restart', 'restart'] },
    });
    expect(decision).toMatchObject({ kind: 'plan', action: 'restart' });
    expect(decision.candidates.map((c) => c.allowed)).toEqual([true, true]);
    expect(decision.candidates[1].reason).toMatch(/comes first/);
  });

  it('escalates without a refusal when the playbook has nothing for the incident', () => {
    const decision = planRemediation({ incident, now, profile: profile(), actionsInLastHour: 0, playbook: { heartbeat_missed: [] } });
    expect(decision).toEqual({ kind: 'escalate', reason: expect.stringMatching(/no playbook/) as string, candidates: [] });
  });
});
