import fc from 'fast-check';
import { incidentKind, type HealingAction, type IncidentKind, type IncidentSeverity, type RemediationAction } from '@autoheal/contracts';
import { BASELINE, effectiveProfile, FRAMEWORKS, PRESETS, REMEDIATION_ACTIONS, type Framework, type ProfileThresholds } from './compliance-presets.js';
import { evaluatePolicy, type PolicyDecision, type PolicyInput } from './evaluate-policy.js';
import { DEFAULT_PLAYBOOKS, type Playbook, type PlaybookCandidate } from './playbooks.js';
import { documentVersion, tenantDocumentSchema, type TenantDocument } from './tenant-document.js';

/*
 * Property test of evaluatePolicy. Random tenant documents (frameworks, overrides that only
 * tighten, inventories, playbooks, maintenance windows and change freezes) and random sequences
 * of incidents over time are run through the policy the way PlanningService does: the caller
 * keeps a ledger of what was decided and derives the counters from it before every decision.
 *
 * Every decision is then judged by a checker written from the rules in words. It uses
 * effectiveProfile only for the numeric thresholds, the allowed regions and the isolation; it
 * calls none of the policy's helpers (actionLevel, placementOf, cooldownUntil, concurrencyLimit,
 * activeWindow, unmetCondition) and derives which actions are automatic, need approval or are
 * forbidden from the presets itself.
 */

const T0 = Date.parse('2026-03-02T00:00:00.000Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const KINDS: readonly IncidentKind[] = incidentKind.options;
const SEVERITIES: readonly IncidentSeverity[] = ['minor', 'major', 'critical'];
const SEVERITY_RANK: Record<IncidentSeverity, number> = { minor: 0, major: 1, critical: 2 };
const PLACEMENT: readonly RemediationAction[] = ['replace', 'scale_out', 'failover'];
/** Two EEA regions and two outside it, so residency both passes and fails. */
const REGIONS = ['eu-west-1', 'eu-central-1', 'us-east-1', 'ap-southeast-2'];
const GHOST_SERVICE = 'ghost';
/** PlanningService passes a deferral with this recheck interval; each incident here is decided once, so never deferred before. */
const RECHECK_MS = 15_000;

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/** Mostly absent: a document that sets every knob at once would refuse almost everything. */
function sometimes<T>(arb: fc.Arbitrary<T>, weight = 1): fc.Arbitrary<T | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: arb, weight });
}

function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Overrides that only tighten what the frameworks impose (the document schema refuses any other). */
function overridesFor(frameworks: Framework[]): fc.Arbitrary<Partial<ProfileThresholds> | undefined> {
  const base = effectiveProfile(frameworks);
  const sharePercent = Math.round(base.maxConcurrentShare * 100);
  const regions = base.allowedRegions === 'any' ? REGIONS : REGIONS.filter((r) => (base.allowedRegions as string[]).includes(r));
  return sometimes(
    fc
      .record({
        maxAutoActionsPerHour: sometimes(fc.integer({ min: 0, max: base.maxAutoActionsPerHour }), 2),
        cooldownMs: sometimes(fc.integer({ min: base.cooldownMs / MIN, max: base.cooldownMs / MIN + 10 }).map((m) => m * MIN)),
        // Whole percents, so that the checker's integer arithmetic is exact.
        maxConcurrentShare: sometimes(fc.integer({ min: 1, max: sharePercent }).map((p) => p / 100), 2),
        allowedRegions: sometimes(base.allowedRegions === 'any' ? fc.oneof(fc.constant('any' as const), fc.subarray(regions)) : fc.subarray(regions)),
        isolation: sometimes(fc.constantFrom<('dedicated' | 'shared')[]>(...(base.isolation === 'dedicated' ? ['dedicated' as const] : ['dedicated' as const, 'shared' as const]))),
        autoActions: sometimes(fc.subarray(base.autoActions)),
        approvalActions: sometimes(fc.subarray([...base.autoActions, ...base.approvalActions])),
        approvalTimeoutMs: sometimes(fc.integer({ min: 1, max: base.approvalTimeoutMs / MIN }).map((m) => m * MIN)),
      })
      .map(compact),
    3,
  );
}

const inventoryArb = fc
  .array(
    fc.record({
      instances: fc.array(fc.record({ region: fc.constantFrom(...REGIONS), zone: fc.constantFrom('a', 'b', 'c'), pool: fc.constantFrom('shared' as const, 'dedicated' as const) }), {
        minLength: 1,
        maxLength: 4,
      }),
      standbyRegions: fc.option(fc.subarray(REGIONS), { nil: undefined }),
      runtime: fc.option(
        fc.constantFrom(
          { kind: 'agent' as const },
          { kind: 'kubernetes' as const, namespace: 'prod', workload: 'Deployment' as const, name: 'api' },
          { kind: 'runbook' as const, url: 'https://runbooks.example/heal', secretRef: 'ACME_RUNBOOK_SECRET' },
        ),
        { nil: undefined },
      ),
      throttle: fc.option(fc.constant({ limitPerSecond: 50, ttlMs: 60_000 }), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 3 },
  )
  .map((services) => ({
    services: services.map((s, si) =>
      compact({
        service: `svc${si}`,
        instances: s.instances.map((i, ii) => ({ instance: `svc${si}-${ii}`, region: i.region, zone: `${i.region}${i.zone}`, pool: i.pool })),
        standbyRegions: s.standbyRegions,
        runtime: s.runtime,
        throttle: s.throttle,
      }),
    ),
  }));

const candidateArb: fc.Arbitrary<PlaybookCandidate> = fc
  .record({
    action: fc.constantFrom(...REMEDIATION_ACTIONS),
    when: sometimes(
      fc
        .record({
          minSeverity: sometimes(fc.constantFrom(...SEVERITIES)),
          scope: sometimes(fc.constantFrom('instance' as const, 'service' as const)),
          maxPreviousAttempts: sometimes(fc.integer({ min: 0, max: 2 })),
        })
        .map(compact),
    ),
    emergency: sometimes(fc.boolean(), 2),
    dryRun: fc.oneof({ arbitrary: fc.constant(undefined), weight: 12 }, { arbitrary: fc.boolean(), weight: 1 }),
  })
  .map(compact);

const playbookArb: fc.Arbitrary<Playbook> = fc
  .record({
    dryRun: fc.oneof({ arbitrary: fc.constant(undefined), weight: 12 }, { arbitrary: fc.boolean(), weight: 1 }),
    candidates: fc.uniqueArray(candidateArb, { selector: (c) => c.action, minLength: 1, maxLength: 4 }),
  })
  .map(compact);

/** A window somewhere in the first day of the scenario. */
const windowArb = fc
  .record({ startMin: fc.integer({ min: 0, max: 24 * 60 }), lengthMin: fc.integer({ min: 5, max: 4 * 60 }) })
  .map(({ startMin, lengthMin }) => ({ start: new Date(T0 + startMin * MIN).toISOString(), end: new Date(T0 + (startMin + lengthMin) * MIN).toISOString(), reason: 'scheduled' }));

const documentArb: fc.Arbitrary<TenantDocument> = fc
  .subarray([...FRAMEWORKS])
  .chain((frameworks) =>
    fc.record({
      frameworks: fc.constant(frameworks),
      overrides: overridesFor(frameworks),
      inventory: inventoryArb,
      playbooks: sometimes(fc.array(fc.tuple(fc.constantFrom(...KINDS), playbookArb), { maxLength: 6 }).map((entries) => Object.fromEntries(entries)), 3),
      maintenanceWindows: sometimes(fc.array(windowArb, { maxLength: 2 })),
      changeFreezes: sometimes(fc.array(windowArb, { maxLength: 2 })),
      dryRun: fc.oneof({ arbitrary: fc.constant(undefined), weight: 20 }, { arbitrary: fc.boolean(), weight: 1 }),
    }),
  )
  .map((parts) => {
    const raw = compact({ apiVersion: 'autoheal/v1' as const, tenantId: 'acme', ...parts });
    // The generators only produce valid documents; a schema error here is a bug in them.
    return tenantDocumentSchema.parse(raw);
  });

interface Step {
  /** Time since the previous incident (0: at the same instant). */
  gapMs: number;
  /** Index into the inventory's services; out of range: a service the inventory does not declare. */
  serviceIndex: number;
  /** Index into the service's instances; -1: service-level (`*`); out of range: an undeclared instance. */
  instanceIndex: number;
  kind: IncidentKind;
  severity: IncidentSeverity;
  scope: 'instance' | 'service' | undefined;
  suspected: boolean;
  breakerOpen: boolean;
  previousAttempts: RemediationAction[];
  /** How long a remediation decided for this incident stays in flight (outcome or approval + outcome). */
  inFlightMs: number;
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  gapMs: fc.oneof(
    { arbitrary: fc.constant(0), weight: 3 },
    { arbitrary: fc.integer({ min: 1, max: 10 * 60 }).map((s) => s * 1000), weight: 6 },
    { arbitrary: fc.integer({ min: 10, max: 90 }).map((m) => m * MIN), weight: 2 },
    { arbitrary: fc.integer({ min: 2, max: 30 }).map((h) => h * HOUR), weight: 1 },
  ),
  serviceIndex: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 2 }), weight: 12 }, { arbitrary: fc.constant(99), weight: 1 }),
  instanceIndex: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 3 }), weight: 12 }, { arbitrary: fc.constant(-1), weight: 1 }, { arbitrary: fc.constant(99), weight: 1 }),
  kind: fc.constantFrom(...KINDS),
  severity: fc.constantFrom(...SEVERITIES),
  scope: fc.constantFrom(undefined, undefined, 'instance' as const, 'service' as const),
  suspected: fc.oneof({ arbitrary: fc.constant(false), weight: 30 }, { arbitrary: fc.constant(true), weight: 1 }),
  breakerOpen: fc.oneof({ arbitrary: fc.constant(false), weight: 30 }, { arbitrary: fc.constant(true), weight: 1 }),
  previousAttempts: fc.oneof({ arbitrary: fc.constant([] as RemediationAction[]), weight: 8 }, { arbitrary: fc.subarray([...REMEDIATION_ACTIONS], { maxLength: 3 }), weight: 1 }),
  // Mostly seconds (a restart), sometimes long (an approval nobody gives, a slow replacement).
  inFlightMs: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 180 }).map((s) => s * 1000), weight: 4 }, { arbitrary: fc.integer({ min: 3, max: 120 }).map((m) => m * MIN), weight: 1 }),
});

const scenarioArb = fc.record({ document: documentArb, steps: fc.array(stepArb, { minLength: 1, maxLength: 40, size: 'max' }) });

// ---------------------------------------------------------------------------------------------
// The caller's ledger (what PlanningService reads from decision.remediations)
// ---------------------------------------------------------------------------------------------

interface LedgerAction {
  service: string;
  instance: string;
  at: number;
}

interface InFlight {
  service: string;
  /** The remediation leaves the in-flight statuses at this instant. */
  until: number;
}

class Ledger {
  /** Automatic actions that will run (planned, not dry run): they count for the hourly cap and the cooldown. */
  readonly actions: LedgerAction[] = [];
  readonly inFlight: InFlight[] = [];

  autoActionsSince(since: number): number {
    return this.actions.filter((a) => a.at > since).length;
  }

  inFlightOn(service: string, now: number): number {
    return this.inFlight.filter((r) => r.service === service && r.until > now).length;
  }

  onTarget(service: string, instance: string, since: number): LedgerAction[] {
    return this.actions.filter((a) => a.service === service && a.instance === instance && a.at > since);
  }

  /** As PlanningService.decide builds it: hour and 24 h windows exclusive at the far end. */
  state(service: string, instance: string, count: number, step: Step, now: number): PolicyInput['state'] {
    const onTarget = this.onTarget(service, instance, now - DAY);
    return {
      autoActionsInLastHour: this.autoActionsSince(now - HOUR),
      inFlightOnService: this.inFlightOn(service, now),
      serviceInstanceCount: count,
      breakerOpen: step.breakerOpen,
      previousAttempts: step.previousAttempts,
      ...(onTarget.length > 0 ? { lastActionOnTarget: { at: Math.max(...onTarget.map((a) => a.at)), consecutive: onTarget.length } } : {}),
    };
  }

  /** What PlanningService stores: only plans that will run are actions; awaiting approval is in flight too. */
  record(decision: PolicyDecision, service: string, instance: string, now: number, inFlightMs: number): void {
    // A service-level plan names no instance; PlanningService escalates it (see `actionable`).
    if (instance === '*') return;
    if (decision.kind === 'plan' && !decision.dryRun) {
      this.actions.push({ service, instance, at: now });
      this.inFlight.push({ service, until: now + inFlightMs });
    }
    if (decision.kind === 'await_approval' && !decision.dryRun) this.inFlight.push({ service, until: now + inFlightMs });
  }
}

// ---------------------------------------------------------------------------------------------
// The independent checker
// ---------------------------------------------------------------------------------------------

type ActionClass = 'auto' | 'approval' | 'forbidden';

/**
 * In words: an action runs automatically only when every framework of the tenant (the baseline,
 * which allows everything, when it has none) lists it as automatic, and the override — where it
 * lists automatic actions — names it there and not among the approval actions. It is never taken
 * when some framework lists it nowhere, or when the override gives both lists and names it in
 * neither. Anything else needs a human's approval.
 */
function classOf(doc: TenantDocument, action: RemediationAction): ActionClass {
  const presets = doc.frameworks.length === 0 ? [BASELINE] : doc.frameworks.map((f) => PRESETS[f]);
  const ov: { autoActions?: readonly RemediationAction[]; approvalActions?: readonly RemediationAction[] } = doc.overrides ?? {};
  if (presets.some((p) => !p.autoActions.includes(action) && !p.approvalActions.includes(action))) return 'forbidden';
  if (ov.autoActions !== undefined && ov.approvalActions !== undefined && !ov.autoActions.includes(action) && !ov.approvalActions.includes(action)) return 'forbidden';
  const autoEverywhere = presets.every((p) => p.autoActions.includes(action));
  const overrideKeepsAuto = (ov.autoActions === undefined || ov.autoActions.includes(action)) && !(ov.approvalActions ?? []).includes(action);
  return autoEverywhere && overrideKeepsAuto ? 'auto' : 'approval';
}

function within(windows: readonly { start: string; end: string }[] | undefined, now: number): boolean {
  return (windows ?? []).some((w) => new Date(w.start).getTime() <= now && now < new Date(w.end).getTime());
}

interface Situation {
  doc: TenantDocument;
  profile: ProfileThresholds;
  ledger: Ledger;
  service: string;
  instance: string;
  incident: PolicyInput['incident'];
  step: Step;
  now: number;
}

/** At most this many of the service's instances at once: the share of them, rounded up, at least one. */
function concurrencyCap(profile: ProfileThresholds, instanceCount: number): number {
  const percent = Math.round(profile.maxConcurrentShare * 100);
  return Math.max(1, Math.ceil((percent * instanceCount) / 100));
}

function declaredInstances(doc: TenantDocument, service: string): number {
  return doc.inventory.services.find((s) => s.service === service)?.instances.length ?? 0;
}

/**
 * Cooldown with backoff, as the code defines it: the automatic actions on the same
 * service/instance decided in the last 24 hours (exclusive at the far end) are counted, n of
 * them; the target cools down until the last of them + cooldownMs × 2^(n−1). No action —
 * automatic or for approval — may be decided for the target before that instant.
 */
function coolingUntil(s: Situation): number | null {
  const recent = s.ledger.actions.filter((a) => a.service === s.service && a.instance === s.instance && a.at > s.now - DAY);
  if (recent.length === 0) return null;
  const last = Math.max(...recent.map((a) => a.at));
  return last + s.profile.cooldownMs * 2 ** (recent.length - 1);
}

/**
 * Every rule that stops the candidate, named as the policy names them, plus `not_applicable`
 * for a candidate that does not apply at all.
 */
function stoppers(c: PlaybookCandidate, s: Situation): Set<string> {
  const out = new Set<string>();
  const { doc, profile, incident, step } = s;
  const scope = incident.scope ?? (incident.instance === '*' ? 'service' : 'instance');
  const when = c.when ?? {};
  if (step.previousAttempts.includes(c.action)) out.add('not_applicable');
  if (when.minSeverity !== undefined && SEVERITY_RANK[incident.severity] < SEVERITY_RANK[when.minSeverity]) out.add('not_applicable');
  if (when.scope !== undefined && when.scope !== scope) out.add('not_applicable');
  if (when.maxPreviousAttempts !== undefined && step.previousAttempts.length > when.maxPreviousAttempts) out.add('not_applicable');

  // What the target's runtime can carry out (an undeclared service runs on the agent), written
  // out here rather than read from the contracts' table, and what the action needs declared.
  const declared = doc.inventory.services.find((x) => x.service === s.service);
  const runtime = declared?.runtime?.kind ?? 'agent';
  const CAN: Record<string, readonly RemediationAction[]> = {
    agent: ['restart', 'replace', 'scale_out', 'failover', 'rollback', 'throttle'],
    kubernetes: ['restart', 'replace', 'scale_out', 'rollback'],
    runbook: ['restart', 'replace', 'scale_out', 'failover', 'rollback', 'throttle'],
  };
  if (!CAN[runtime].includes(c.action)) out.add('not_applicable');
  if (c.action === 'throttle' && !declared?.throttle) out.add('not_applicable');
  if (c.action === 'failover' && (declared?.standbyRegions ?? []).length === 0) out.add('not_applicable');

  const cls = classOf(doc, c.action);
  if (cls === 'forbidden') out.add('action_not_allowed');

  if (PLACEMENT.includes(c.action)) {
    // Where it lands is known only when the inventory declares the target: the instance, or for a
    // service-level incident the service (then every instance of it counts).
    const svc = doc.inventory.services.find((x) => x.service === s.service);
    const targets = svc ? (s.instance === '*' ? svc.instances : svc.instances.filter((i) => i.instance === s.instance)) : [];
    const known = targets.length > 0;
    const regions = c.action === 'failover' ? (svc?.standbyRegions ?? []) : targets.map((t) => t.region);
    if (profile.allowedRegions !== 'any') {
      const allowed = profile.allowedRegions;
      if (!known || regions.some((r) => !allowed.includes(r))) out.add('residency');
    }
    if (profile.isolation === 'dedicated' && (!known || targets.some((t) => t.pool === 'shared'))) out.add('isolation');
  }

  if (within(doc.changeFreezes, s.now) && c.emergency !== true) out.add('change_freeze');
  const until = coolingUntil(s);
  if (until !== null && s.now < until) out.add('cooldown');
  const count = Math.max(1, declaredInstances(doc, s.service));
  if (s.ledger.inFlightOn(s.service, s.now) + 1 > concurrencyCap(profile, count)) out.add('service_concurrency');
  if (cls === 'auto' && s.ledger.autoActionsSince(s.now - HOUR) >= profile.maxAutoActionsPerHour) out.add('max_auto_actions_per_hour');
  return out;
}

/** Every way the decision breaks a rule; empty when it keeps them all. */
function violations(decision: PolicyDecision, s: Situation): string[] {
  const out: string[] = [];
  const { doc, profile, now, step } = s;
  const playbook = doc.playbooks?.[s.incident.kind] ?? DEFAULT_PLAYBOOKS[s.incident.kind];
  const inMaintenance = within(doc.maintenanceWindows, now);
  const inFreeze = within(doc.changeFreezes, now);
  const acts = decision.kind === 'plan' || decision.kind === 'await_approval';

  // The action lists effectiveProfile yields agree with the rule in words.
  const expectAuto = REMEDIATION_ACTIONS.filter((a) => classOf(doc, a) === 'auto').sort();
  const expectApproval = REMEDIATION_ACTIONS.filter((a) => classOf(doc, a) === 'approval').sort();
  if (JSON.stringify([...profile.autoActions].sort()) !== JSON.stringify(expectAuto)) out.push(`profile.autoActions ${profile.autoActions.join(',')} ≠ ${expectAuto.join(',')}`);
  if (JSON.stringify([...profile.approvalActions].sort()) !== JSON.stringify(expectApproval)) out.push(`profile.approvalActions ${profile.approvalActions.join(',')} ≠ ${expectApproval.join(',')}`);

  // Nothing is planned while the breaker is open (or the incident is a suspected detector/network fault),
  // nor in a maintenance window; and a hold happens for no other reason.
  const held = step.breakerOpen || step.suspected || inMaintenance;
  if (held && decision.kind !== 'hold') out.push(`${decision.kind} although ${step.breakerOpen ? 'the breaker is open' : step.suspected ? 'the fault is suspected' : 'a maintenance window holds'}`);
  if (!held && decision.kind === 'hold') out.push(`hold (${decision.rule}) with no breaker, suspicion or maintenance window`);
  if (decision.kind === 'hold') {
    const rule = step.breakerOpen || step.suspected ? 'circuit_breaker' : 'maintenance_window';
    if ((decision.rule as string) !== rule) out.push(`hold names ${decision.rule}, expected ${rule}`);
  }

  if (acts) {
    const { action } = decision;
    const cls = classOf(doc, action);
    const candidate = playbook.candidates.find((c) => c.action === action);
    // The rules the brief lists, one by one.
    if (!candidate) out.push(`${action} is not a candidate of the playbook`);
    if (cls === 'forbidden') out.push(`${action} is forbidden for the tenant`);
    if (decision.kind === 'plan' && cls !== 'auto') out.push(`${action} planned automatically but it is ${cls}`);
    if (decision.kind === 'await_approval' && cls !== 'approval') out.push(`${action} awaits approval but it is ${cls}`);
    if (decision.kind === 'await_approval' && decision.expiresAt !== now + profile.approvalTimeoutMs) out.push(`approval expires at ${decision.expiresAt}, not now + ${profile.approvalTimeoutMs}`);
    if (inFreeze && candidate?.emergency !== true) out.push(`${action} during a change freeze but not an emergency candidate`);
    if (decision.emergency !== (inFreeze && candidate?.emergency === true)) out.push(`emergency flag ${decision.emergency} (freeze ${inFreeze})`);
    if (s.step.previousAttempts.includes(action)) out.push(`${action} was already tried for the incident`);
    const until = coolingUntil(s);
    if (until !== null && now < until) out.push(`${action} on ${s.service}/${s.instance} inside its cooldown (until ${new Date(until).toISOString()})`);
    const cap = concurrencyCap(profile, Math.max(1, declaredInstances(doc, s.service)));
    if (s.ledger.inFlightOn(s.service, now) + 1 > cap) out.push(`${action} would put ${s.ledger.inFlightOn(s.service, now) + 1} in flight on ${s.service}, cap ${cap}`);
    if (decision.kind === 'plan' && s.ledger.autoActionsSince(now - HOUR) + 1 > profile.maxAutoActionsPerHour) out.push(`automatic ${action} exceeds ${profile.maxAutoActionsPerHour} per hour`);
    const expectDryRun = doc.dryRun === true || playbook.dryRun === true || candidate?.dryRun === true;
    if (decision.dryRun !== expectDryRun) out.push(`dryRun ${decision.dryRun}, expected ${expectDryRun}`);
    if (PLACEMENT.includes(action)) {
      const st = stoppers(candidate ?? { action: action as HealingAction }, s);
      if (st.has('residency')) out.push(`${action} places workload outside ${JSON.stringify(profile.allowedRegions)} (or where it cannot be checked)`);
      if (st.has('isolation')) out.push(`${action} places workload on a shared pool (or where it cannot be checked) under dedicated isolation`);
    }
  }

  // Beyond safety: the policy takes the first candidate no rule stops, keeps the later free ones as
  // fallbacks, escalates only when every candidate is stopped, and names a rule that really applies.
  if (!held) {
    const judged = playbook.candidates.map((c) => ({ c, stop: stoppers(c, s) }));
    const free = judged.filter((j) => j.stop.size === 0);
    if (free.length === 0) {
      // Every candidate stopped: it waits instead of escalating when the incident names an instance
      // (instance-level), every candidate that applies is stopped by the cooldown or the concurrency
      // cap and by no compliance rule, the spent hourly budget does not stop them all as well, and
      // the cooldown, if any, ends within half the time to remediate.
      // A deferral must end in a plan for one instance: `*` names none, whatever the scope says.
      const namesInstance = s.incident.instance !== '*' && s.incident.scope !== 'service';
      const applicable = judged.filter((j) => !j.stop.has('not_applicable'));
      const barred = ['action_not_allowed', 'residency', 'isolation', 'change_freeze'];
      const paced =
        applicable.every((j) => !barred.some((r) => j.stop.has(r)) && (j.stop.has('cooldown') || j.stop.has('service_concurrency'))) &&
        applicable.some((j) => !j.stop.has('max_auto_actions_per_hour'));
      const until = coolingUntil(s);
      const cooling = until !== null && now < until;
      const inTime = !cooling || until <= now + profile.maxTimeToRemediateMs / 2;
      const expectKind = namesInstance && applicable.length > 0 && paced && inTime ? 'defer' : 'escalate';
      if (decision.kind !== expectKind) out.push(`${decision.kind}, expected ${expectKind}, as every candidate is stopped: ${judged.map((j) => `${j.c.action}[${[...j.stop].join(',')}]`).join(' ')}`);
      if (decision.kind === 'defer' && decision.retryAt !== (cooling ? until : now + RECHECK_MS)) out.push(`deferred until ${decision.retryAt}, expected ${cooling ? `the cooldown's end ${until}` : `now + ${RECHECK_MS}`}`);
    } else {
      const first = free[0].c;
      const expectKind = classOf(doc, first.action) === 'auto' ? 'plan' : 'await_approval';
      if (decision.kind !== expectKind || !acts || decision.action !== first.action) {
        out.push(`${decision.kind}${acts ? ` ${decision.action}` : ''}, expected ${expectKind} ${first.action}: ${judged.map((j) => `${j.c.action}[${[...j.stop].join(',')}]`).join(' ')}`);
      } else if (JSON.stringify(decision.fallbacks) !== JSON.stringify(free.slice(1).map((j) => j.c.action))) {
        out.push(`fallbacks ${decision.fallbacks.join(',')}, expected ${free.slice(1).map((j) => j.c.action).join(',')}`);
      }
    }
    if (decision.kind !== 'hold') {
      for (const r of decision.refusals) {
        const j = judged.find((x) => x.c.action === r.action);
        if (!j || !j.stop.has(r.rule)) out.push(`refusal of ${r.action} by ${r.rule}, but the rules stop it by [${j ? [...j.stop].join(',') : 'not a candidate'}]`);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

type Stats = Record<string, number>;

function bump(stats: Stats, key: string): void {
  stats[key] = (stats[key] ?? 0) + 1;
}

type Policy = (input: PolicyInput) => PolicyDecision;

/** Plays the scenario through the policy as PlanningService would; throws on the first broken rule. */
function play(document: TenantDocument, steps: Step[], stats: Stats, policy: Policy = evaluatePolicy): void {
  const profile = effectiveProfile(document.frameworks, document.overrides);
  const tenant = { document, profile, version: documentVersion(document) };
  const ledger = new Ledger();
  let now = T0;
  steps.forEach((step, i) => {
    now += step.gapMs;
    const svc = document.inventory.services[step.serviceIndex];
    const service = svc?.service ?? GHOST_SERVICE;
    const instance = step.instanceIndex < 0 ? '*' : (svc?.instances[step.instanceIndex]?.instance ?? `${service}-undeclared`);
    const count = Math.max(1, svc?.instances.length ?? 0);
    const incident: PolicyInput['incident'] = {
      incidentId: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`,
      kind: step.kind,
      severity: step.severity,
      service,
      instance,
      openedAt: now - 1_000,
      ...(step.scope ? { scope: step.scope } : {}),
      ...(step.suspected ? { suspectedCause: 'detector_or_network' as const } : {}),
    };
    const decision = policy({ incident, tenant, state: ledger.state(service, instance, count, step, now), now, deferral: { recheckMs: RECHECK_MS } });

    const broken = violations(decision, { doc: document, profile, ledger, service, instance, incident, step, now });
    if (broken.length > 0) throw new Error(`incident #${i} (${step.kind} ${step.severity} on ${service}/${instance} at +${(now - T0) / MIN} min): ${broken.join('; ')}`);

    bump(stats, decision.kind === 'hold' ? `hold:${decision.rule}` : decision.kind);
    if (decision.kind === 'plan' && decision.emergency) bump(stats, 'emergency');
    if (decision.kind !== 'hold') for (const r of decision.refusals) bump(stats, `refused:${r.rule}`);
    ledger.record(decision, service, instance, now, step.inFlightMs);

    // After each decision: the concurrency cap on the service holds.
    const cap = concurrencyCap(profile, count);
    if (ledger.inFlightOn(service, now) > cap) throw new Error(`incident #${i}: ${ledger.inFlightOn(service, now)} in flight on ${service}, cap ${cap}`);
  });
  // Over the whole run: no rolling hour (t − 1 h, t] holds more automatic actions than the cap.
  for (const a of ledger.actions) {
    const inHour = ledger.actions.filter((b) => b.at > a.at - HOUR && b.at <= a.at).length;
    if (inHour > profile.maxAutoActionsPerHour) throw new Error(`${inHour} automatic actions in the hour up to ${new Date(a.at).toISOString()}, cap ${profile.maxAutoActionsPerHour}`);
  }
}

const RUNS = 200;

describe('evaluatePolicy against an independent checker (property)', () => {
  it(`keeps every rule over ${RUNS} random tenants, each with a sequence of up to 40 incidents`, () => {
    const stats: Stats = {};
    fc.assert(
      fc.property(scenarioArb, ({ document, steps }) => play(document, steps, stats)),
      { numRuns: RUNS },
    );
    // The generators reach every rule: a property that never meets a refusal proves nothing.
    const reached = [
      'plan',
      'await_approval',
      'escalate',
      'defer',
      'hold:circuit_breaker',
      'hold:maintenance_window',
      'emergency',
      'refused:action_not_allowed',
      'refused:residency',
      'refused:isolation',
      'refused:change_freeze',
      'refused:cooldown',
      'refused:service_concurrency',
      'refused:max_auto_actions_per_hour',
    ].filter((key) => !(stats[key] > 0));
    expect(reached).toEqual([]);
  });

  // The checker itself must not be vacuous: a policy fed a counter that lies must be caught.
  const mutants: { name: string; lie: (state: PolicyInput['state']) => PolicyInput['state'] }[] = [
    { name: 'the hourly count', lie: (state) => ({ ...state, autoActionsInLastHour: 0 }) },
    { name: 'the in-flight count', lie: (state) => ({ ...state, inFlightOnService: 0 }) },
    { name: 'the last action on the target', lie: ({ lastActionOnTarget: _dropped, ...state }) => state },
    { name: 'the backoff (one action in a row)', lie: (state) => (state.lastActionOnTarget ? { ...state, lastActionOnTarget: { ...state.lastActionOnTarget, consecutive: 1 } } : state) },
    { name: 'the breaker', lie: (state) => ({ ...state, breakerOpen: false }) },
  ];
  it.each(mutants)('catches a policy that does not see $name', ({ lie }) => {
    const mutant: Policy = (input) => evaluatePolicy({ ...input, state: lie(input.state) });
    expect(() => fc.assert(fc.property(scenarioArb, ({ document, steps }) => play(document, steps, {}, mutant)), { numRuns: RUNS })).toThrow(/Property failed/);
  });
});
