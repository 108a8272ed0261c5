import type { HealingAction } from '@autoheal/contracts';
import { effectiveProfile } from './compliance-presets.js';
import { deferral, deferralLimitMs, type DeferralInput, type DeferralVerdict } from './deferral.js';
import { evaluatePolicy, type PolicyInput } from './evaluate-policy.js';
import { GuardrailRule } from './guardrails.js';
import { documentVersion, type TenantDocument } from './tenant-document.js';

const NOW = Date.parse('2026-11-21T12:00:00.000Z');
const SEC = 1000;
const MIN = 60 * SEC;
const { ServiceConcurrency: CONCURRENCY, Cooldown: COOLDOWN, HourlyCap: HOURLY, Residency: RESIDENCY, Isolation: ISOLATION, ActionNotAllowed: NOT_ALLOWED, ChangeFreeze: FREEZE } = GuardrailRule;

const base: DeferralInput = { scope: 'instance', refusals: [{ rule: CONCURRENCY }], now: NOW, cooldownUntil: null, recheckMs: 15 * SEC, limitMs: 15 * MIN };

describe('deferral: which refusals wait and until when', () => {
  it.each<[string, Partial<DeferralInput>, DeferralVerdict]>([
    // What defers: an instance-level incident refused only by the pacing guardrails.
    ['concurrency cap: checked again after the recheck interval', {}, { kind: 'defer', retryAt: NOW + 15 * SEC, since: NOW, escalateAt: NOW + 15 * MIN }],
    ['concurrency cap on every candidate', { refusals: [{ rule: CONCURRENCY }, { rule: CONCURRENCY }] }, { kind: 'defer', retryAt: NOW + 15 * SEC, since: NOW, escalateAt: NOW + 15 * MIN }],
    ['cooldown: checked again when it ends', { refusals: [{ rule: COOLDOWN }], cooldownUntil: NOW + 2 * MIN }, { kind: 'defer', retryAt: NOW + 2 * MIN, since: NOW, escalateAt: NOW + 15 * MIN }],
    ['cooldown ending exactly at the limit still waits', { refusals: [{ rule: COOLDOWN }], cooldownUntil: NOW + 15 * MIN }, { kind: 'defer', retryAt: NOW + 15 * MIN, since: NOW, escalateAt: NOW + 15 * MIN }],
    [
      'deferred before: the limit counts from the first deferral',
      { since: NOW - 10 * MIN },
      { kind: 'defer', retryAt: NOW + 15 * SEC, since: NOW - 10 * MIN, escalateAt: NOW + 5 * MIN },
    ],
    ['the recheck never lands past the limit', { since: NOW - 15 * MIN + 5 * SEC }, { kind: 'defer', retryAt: NOW + 5 * SEC, since: NOW - 15 * MIN + 5 * SEC, escalateAt: NOW + 5 * SEC }],

    // What escalates as before: another rule among the refusals, no refusal, no instance.
    ['hourly cap (budget spent)', { refusals: [{ rule: HOURLY }] }, { kind: 'escalate' }],
    ['concurrency cap and the hourly cap', { refusals: [{ rule: CONCURRENCY }, { rule: HOURLY }] }, { kind: 'escalate' }],
    ['residency', { refusals: [{ rule: RESIDENCY }] }, { kind: 'escalate' }],
    ['isolation', { refusals: [{ rule: ISOLATION }] }, { kind: 'escalate' }],
    ['action not allowed, then the cooldown', { refusals: [{ rule: NOT_ALLOWED }, { rule: COOLDOWN }], cooldownUntil: NOW + MIN }, { kind: 'escalate' }],
    ['change freeze', { refusals: [{ rule: FREEZE }] }, { kind: 'escalate' }],
    ['no refusal at all (every candidate skipped)', { refusals: [] }, { kind: 'escalate' }],
    [
      'paced, but the hourly budget would refuse every candidate next',
      { refusals: [{ rule: COOLDOWN, overBudget: true }], cooldownUntil: NOW + MIN },
      { kind: 'escalate', why: 'waiting would not help: the hourly budget of automatic actions is spent too (max_auto_actions_per_hour)' },
    ],
    [
      'paced, the budget spent, but one candidate needs an approval the budget does not count',
      { refusals: [{ rule: CONCURRENCY, overBudget: true }, { rule: CONCURRENCY, overBudget: false }] },
      { kind: 'defer', retryAt: NOW + 15 * SEC, since: NOW, escalateAt: NOW + 15 * MIN },
    ],
    ['a service-level incident', { scope: 'service' }, { kind: 'escalate' }],
  ])('%s', (_name, change, expected) => {
    expect(deferral({ ...base, ...change })).toEqual(expected);
  });

  it.each<[string, Partial<DeferralInput>, RegExp]>([
    ['deferred for exactly the limit', { since: NOW - 15 * MIN }, /^waited too long: deferred since 2026-11-21T11:45:00.000Z for 900s, the limit of 900s \(half the maximum time to remediate\) has passed$/],
    ['deferred for longer than the limit', { since: NOW - 20 * MIN }, /^waited too long: .* for 1200s/],
    ['the cooldown ends after the limit', { refusals: [{ rule: COOLDOWN }], cooldownUntil: NOW + 15 * MIN + 1 }, /^would wait too long: the cooldown ends at 2026-11-21T12:15:00.001Z, past the limit of 900s/],
    ['the cooldown backoff never ends', { refusals: [{ rule: COOLDOWN }], cooldownUntil: Infinity }, /^would wait too long: the cooldown backoff has no end$/],
  ])('waits no longer than the limit: %s', (_name, change, why) => {
    const verdict = deferral({ ...base, ...change });
    expect(verdict.kind).toBe('waited_too_long');
    if (verdict.kind === 'waited_too_long') expect(verdict.why).toMatch(why);
  });

  it('allows half the maximum time to remediate', () => {
    expect(deferralLimitMs({ maxTimeToRemediateMs: 15 * MIN })).toBe(7.5 * MIN);
    expect(deferralLimitMs({ maxTimeToRemediateMs: 30 * MIN + 1 })).toBe(15 * MIN);
  });
});

/** GDPR (TTR 30 min, so a 15 min deferral limit; cooldown 1 min; half of 4 instances at once). */
function inputOf(state: Partial<PolicyInput['state']>, extra: Partial<PolicyInput> = {}, playbook: HealingAction[] = ['restart']): PolicyInput {
  const document: TenantDocument = {
    apiVersion: 'autoheal/v1',
    tenantId: 'acme',
    frameworks: ['GDPR'],
    inventory: {
      services: [
        {
          service: 'api',
          instances: ['api-1', 'api-2', 'api-3', 'api-4'].map((instance) => ({ instance, region: 'eu-west-1', zone: 'eu-west-1a', pool: 'dedicated' as const })),
          throttle: { limitPerSecond: 100, ttlMs: 60_000 },
        },
      ],
    },
    playbooks: { crashed: { candidates: playbook.map((action) => ({ action })) } },
  };
  return {
    incident: { incidentId: '01936b2e-0000-7000-8000-000000000001', kind: 'crashed', severity: 'critical', service: 'api', instance: 'api-3', openedAt: NOW - 5 * SEC },
    tenant: { document, profile: effectiveProfile(['GDPR']), version: documentVersion(document) },
    state: { autoActionsInLastHour: 0, inFlightOnService: 0, serviceInstanceCount: 4, breakerOpen: false, previousAttempts: [], ...state },
    now: NOW,
    deferral: { recheckMs: 15 * SEC },
    ...extra,
  };
}

describe('evaluatePolicy with deferral', () => {
  it('defers an incident the concurrency cap refuses, recording why and until when', () => {
    const decision = evaluatePolicy(inputOf({ inFlightOnService: 2 }));
    expect(decision).toMatchObject({ kind: 'defer', retryAt: NOW + 15 * SEC, deferredSince: NOW, escalateAt: NOW + 15 * MIN, refusals: [{ rule: CONCURRENCY, action: 'restart' }] });
    expect(decision.explanation.reason).toMatch(/deferred, not escalated: service_concurrency only paces healing; decided again by 2026-11-21T12:00:15.000Z, escalated if still refused at 2026-11-21T12:15:00.000Z/);
    expect(decision.explanation.inputs).toMatchObject({ deferral: { recheckMs: 15 * SEC, limitMs: 15 * MIN, deferredSince: null } });
  });

  it('defers an incident in its cooldown until the cooldown ends', () => {
    // Second action in a row: 60 s × 2 = 120 s after the last.
    const decision = evaluatePolicy(inputOf({ lastActionOnTarget: { at: NOW - 30 * SEC, consecutive: 2 } }));
    expect(decision).toMatchObject({ kind: 'defer', retryAt: NOW + 90 * SEC, refusals: [{ rule: COOLDOWN }] });
  });

  it('plans once the slot is free, whatever the deferral', () => {
    expect(evaluatePolicy(inputOf({ inFlightOnService: 1 }, { deferral: { recheckMs: 15 * SEC, since: NOW - 14 * MIN } }))).toMatchObject({ kind: 'plan', action: 'restart' });
  });

  it('escalates, saying it waited too long, once deferred past half the maximum time to remediate', () => {
    const decision = evaluatePolicy(inputOf({ inFlightOnService: 2 }, { deferral: { recheckMs: 15 * SEC, since: NOW - 15 * MIN } }));
    expect(decision).toMatchObject({ kind: 'escalate', refusals: [{ rule: CONCURRENCY }] });
    expect(decision.explanation.reason).toMatch(/; waited too long: deferred since 2026-11-21T11:45:00.000Z for 900s, .* has passed; escalating to a human$/);
  });

  it('escalates as before when the hourly cap refuses, the incident is service-level, or deferral is off', () => {
    expect(evaluatePolicy(inputOf({ inFlightOnService: 1, autoActionsInLastHour: 6 }))).toMatchObject({ kind: 'escalate', refusals: [{ rule: HOURLY }] });
    // No slot, and the hour's budget is spent: a slot alone would not let it run.
    const spent = evaluatePolicy(inputOf({ inFlightOnService: 2, autoActionsInLastHour: 6 }));
    expect(spent).toMatchObject({ kind: 'escalate', refusals: [{ rule: CONCURRENCY }] });
    expect(spent.explanation.reason).toMatch(/waiting would not help: the hourly budget of automatic actions is spent too/);
    const service = inputOf({ inFlightOnService: 2 });
    expect(evaluatePolicy({ ...service, incident: { ...service.incident, instance: '*', scope: 'service' } }).kind).toBe('escalate');
    const { deferral: _off, ...off } = inputOf({ inFlightOnService: 2 });
    expect(evaluatePolicy(off).kind).toBe('escalate');
  });

  it('defers when every candidate waits for a slot, escalates when one is refused for compliance', () => {
    expect(evaluatePolicy(inputOf({ inFlightOnService: 2 }, {}, ['restart', 'throttle']))).toMatchObject({
      kind: 'defer',
      refusals: [
        { rule: CONCURRENCY, action: 'restart' },
        { rule: CONCURRENCY, action: 'throttle' },
      ],
    });
    // An override leaves rollback in neither list: it is never taken, which no wait changes.
    const input = inputOf({ inFlightOnService: 2 }, {}, ['restart', 'rollback']);
    const profile = effectiveProfile(['GDPR'], { autoActions: ['restart'], approvalActions: [] });
    expect(evaluatePolicy({ ...input, tenant: { ...input.tenant!, profile } })).toMatchObject({
      kind: 'escalate',
      refusals: [
        { rule: CONCURRENCY, action: 'restart' },
        { rule: NOT_ALLOWED, action: 'rollback' },
      ],
    });
  });

  it('defers when the only other candidate cannot apply, even though the profile also forbids it', () => {
    // Found by the property test: failover that cannot apply (here: there is no standby region),
    // and not allowed either, made the incident escalate
    // although restart only waited for a slot.
    const input = inputOf({ inFlightOnService: 2 }, {}, ['failover', 'restart']);
    const profile = effectiveProfile(['GDPR'], { autoActions: ['restart'], approvalActions: [] });
    const decision = evaluatePolicy({ ...input, tenant: { ...input.tenant!, profile } });
    expect(decision).toMatchObject({ kind: 'defer', refusals: [{ rule: CONCURRENCY, action: 'restart' }] });
    expect(decision.explanation.candidates[0]).toMatchObject({ action: 'failover', allowed: false, reason: 'not applicable: the inventory declares no standby region for api to fail over to' });
  });
});
