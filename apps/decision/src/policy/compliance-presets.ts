import { AUDIT_RETENTION, BASELINE_AUDIT_RETENTION, type HealingAction, type RemediationAction } from '@autoheal/contracts';

export const FRAMEWORKS = ['HIPAA', 'PCI_DSS', 'GDPR', 'SOC2'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

/** The actions a profile allows or sends to approval (scale_in goes with scale_out: the decision service plans it itself). */
export const REMEDIATION_ACTIONS: readonly HealingAction[] = ['restart', 'replace', 'scale_out', 'failover', 'rollback', 'throttle'];

/** Actions that put workload somewhere (a new process, a new instance, a standby): residency and isolation apply. scale_in places nothing. */
export const PLACEMENT_ACTIONS: readonly RemediationAction[] = ['replace', 'scale_out', 'failover'];

/** The thresholds a tenant's compliance obligations impose on remediation. */
export interface ProfileThresholds {
  /** Fraction of time the service must be up over the reporting window (0.999 = 99.9 %). */
  availabilityTarget: number;
  /** An incident open longer than this without a successful remediation is a breach. */
  maxTimeToRemediateMs: number;
  /** Regions where an action may place workload; `any` when the frameworks impose no residency. */
  allowedRegions: string[] | 'any';
  /** `dedicated`: the tenant's workload may only be placed on dedicated pools. */
  isolation: 'dedicated' | 'shared';
  /** Actions the policy may take without a human. */
  autoActions: RemediationAction[];
  /** Actions that may run only once a human approves them. Anything in neither list is never taken. */
  approvalActions: RemediationAction[];
  /** Automatic actions per tenant per rolling hour. */
  maxAutoActionsPerHour: number;
  /** How long the audit trail of the tenant must be kept. */
  auditRetentionDays: number;
  /** Minimum pause between two actions on one target; doubles with each consecutive action. */
  cooldownMs: number;
  /** Share (0..1) of a service's instances that may be acted on at once; never less than one instance. */
  maxConcurrentShare: number;
  /** A plan awaiting approval escalates when nobody approves it within this time. */
  approvalTimeoutMs: number;
}

export type Threshold = keyof ProfileThresholds;
export const THRESHOLDS: readonly Threshold[] = [
  'availabilityTarget',
  'maxTimeToRemediateMs',
  'allowedRegions',
  'isolation',
  'autoActions',
  'approvalActions',
  'maxAutoActionsPerHour',
  'auditRetentionDays',
  'cooldownMs',
  'maxConcurrentShare',
  'approvalTimeoutMs',
];

const MINUTE = 60_000;

/**
 * EEA regions (named as the major clouds name them). GDPR Chapter V (Art. 44-49) restricts
 * transfers of personal data outside the EEA; keeping remediation inside these regions keeps a
 * replacement or failover from becoming a transfer. Tenants narrow this list with an override.
 */
export const EEA_REGIONS = ['eu-central-1', 'eu-north-1', 'eu-south-1', 'eu-south-2', 'eu-west-1', 'eu-west-3'];

/**
 * Presets per framework. The regulations set few of these numbers outright: where one does
 * (retention, residency, segmentation, change control) the comment cites it; the rest are our
 * conservative defaults for a regulated production service, and say so. The decision service's
 * README has the same table with the reasoning. A tenant may only tighten them (see effectiveProfile).
 */
export const PRESETS: Record<Framework, ProfileThresholds> = {
  HIPAA: {
    // Not set by the rule; 164.308(a)(7) requires a contingency plan that keeps ePHI available. Our default: three nines.
    availabilityTarget: 0.999,
    // Default: clinicians lose access to records while a patient API is down; 15 minutes is the longest we accept.
    maxTimeToRemediateMs: 15 * MINUTE,
    // HIPAA has no data-residency rule; US-only hosting is usually a contract term: set it with an override.
    allowedRegions: 'any',
    // 164.312(a)(1) access control and typical BAAs: ePHI workloads are kept off capacity shared with other customers.
    isolation: 'dedicated',
    // Restart, replace, scale out and throttle change no code or data location; rollback changes the deployed
    // software (164.308(a)(1)(ii)(D) information system activity review) and failover moves ePHI: a human approves.
    autoActions: ['restart', 'replace', 'scale_out', 'throttle'],
    approvalActions: ['rollback', 'failover'],
    maxAutoActionsPerHour: 6,
    // 164.316(b)(2)(i): documentation of required actions is retained for six years.
    auditRetentionDays: AUDIT_RETENTION.HIPAA.retainDays,
    cooldownMs: 2 * MINUTE,
    maxConcurrentShare: 0.34,
    approvalTimeoutMs: 10 * MINUTE,
  },
  PCI_DSS: {
    // Not set by the standard; payment authorisation paths commonly commit to 99.95 %.
    availabilityTarget: 0.9995,
    // Default: a payment outage loses transactions by the second; tightest of the presets.
    maxTimeToRemediateMs: 10 * MINUTE,
    allowedRegions: 'any',
    // Req. 1.3/1.4 and Appendix A1 (multi-tenant providers): the cardholder data environment is segmented
    // from other customers' workloads, so replacements land on dedicated capacity only.
    isolation: 'dedicated',
    // Req. 6.5.1: changes to system components follow change control. Restart, scale out and throttle leave
    // the component as it is; replace (a new system component), failover and rollback are changes.
    autoActions: ['restart', 'scale_out', 'throttle'],
    approvalActions: ['replace', 'failover', 'rollback'],
    maxAutoActionsPerHour: 4,
    // Req. 10.5.1: audit log history is retained for at least twelve months.
    auditRetentionDays: AUDIT_RETENTION.PCI_DSS.retainDays,
    cooldownMs: 2 * MINUTE,
    maxConcurrentShare: 0.25,
    approvalTimeoutMs: 5 * MINUTE,
  },
  GDPR: {
    // Art. 32(1)(b),(c): ongoing availability and timely restoration; the numbers are our default.
    availabilityTarget: 0.999,
    maxTimeToRemediateMs: 30 * MINUTE,
    // Chapter V (Art. 44-49): no placement outside the EEA.
    allowedRegions: EEA_REGIONS,
    // GDPR does not require dedicated capacity.
    isolation: 'shared',
    autoActions: ['restart', 'replace', 'scale_out', 'throttle', 'rollback'],
    // A failover moves personal data to another region: a human confirms the move is lawful.
    approvalActions: ['failover'],
    maxAutoActionsPerHour: 6,
    // Audit rows hold identifiers, not personal data, so Art. 5(1)(e) storage limitation does not shorten this;
    // one year lets a supervisory authority's inquiry (Art. 58) be answered.
    auditRetentionDays: AUDIT_RETENTION.GDPR.retainDays,
    cooldownMs: MINUTE,
    maxConcurrentShare: 0.5,
    approvalTimeoutMs: 15 * MINUTE,
  },
  SOC2: {
    // Trust Services Criteria A1.1/A1.2: availability commitments are the service organisation's own; three nines.
    availabilityTarget: 0.999,
    // CC7.4: incidents are responded to per the documented programme; our default.
    maxTimeToRemediateMs: 30 * MINUTE,
    allowedRegions: 'any',
    isolation: 'shared',
    // CC8.1: changes are authorised; a rollback and a failover change what runs where, so they need approval.
    autoActions: ['restart', 'replace', 'scale_out', 'throttle'],
    approvalActions: ['rollback', 'failover'],
    maxAutoActionsPerHour: 10,
    // A Type II report covers an observation period of up to twelve months; evidence must outlive it.
    auditRetentionDays: AUDIT_RETENTION.SOC2.retainDays,
    cooldownMs: MINUTE,
    maxConcurrentShare: 0.5,
    approvalTimeoutMs: 15 * MINUTE,
  },
};

/**
 * The profile of a tenant under no framework: everything automatic, loosely paced. Used only
 * when a document lists no framework; the presets above are all stricter than this.
 */
export const BASELINE: ProfileThresholds = {
  availabilityTarget: 0.99,
  maxTimeToRemediateMs: 60 * MINUTE,
  allowedRegions: 'any',
  isolation: 'shared',
  autoActions: [...REMEDIATION_ACTIONS],
  approvalActions: [],
  maxAutoActionsPerHour: 20,
  auditRetentionDays: BASELINE_AUDIT_RETENTION.retainDays,
  cooldownMs: MINUTE,
  maxConcurrentShare: 0.5,
  approvalTimeoutMs: 30 * MINUTE,
};

function sortedUnique<T extends string>(values: readonly T[]): T[] {
  return [...new Set(values)].sort();
}

function intersectRegions(a: string[] | 'any', b: string[] | 'any'): string[] | 'any' {
  if (a === 'any') return b === 'any' ? 'any' : sortedUnique(b);
  if (b === 'any') return sortedUnique(a);
  return sortedUnique(a.filter((r) => b.includes(r)));
}

/** 0: automatic, 1: needs approval, 2: never. Merging takes the higher level per action. */
type ActionLevel = 0 | 1 | 2;

/**
 * The level a (possibly partial) profile gives an action. A full profile (both lists) forbids
 * what is in neither list. A partial one constrains only what it names: `autoActions` alone
 * sends every other action to approval; `approvalActions` alone leaves the others unconstrained.
 * An action in both lists needs approval.
 */
export function actionLevel(p: Partial<Pick<ProfileThresholds, 'autoActions' | 'approvalActions'>>, action: RemediationAction): ActionLevel {
  const auto = p.autoActions?.includes(action);
  const approval = p.approvalActions?.includes(action);
  if (approval) return 1;
  if (p.autoActions === undefined) return 0;
  if (auto) return 0;
  return p.approvalActions === undefined ? 1 : 2;
}

/**
 * The stricter of two profiles, threshold by threshold: higher availability, shorter time to
 * remediate and approval timeout, intersection of regions and of automatic actions, union of
 * approval actions (an action one side forbids stays forbidden), dedicated over shared, lower
 * caps and shares, longer retention and cooldown. `b` may be partial (a tenant's overrides):
 * what it leaves out keeps `a`'s value.
 */
export function stricterOf(a: ProfileThresholds, b: Partial<ProfileThresholds>): ProfileThresholds {
  const levels = REMEDIATION_ACTIONS.map((action) => [action, Math.max(actionLevel(a, action), actionLevel(b, action))] as const);
  return {
    availabilityTarget: Math.max(a.availabilityTarget, b.availabilityTarget ?? -Infinity),
    maxTimeToRemediateMs: Math.min(a.maxTimeToRemediateMs, b.maxTimeToRemediateMs ?? Infinity),
    allowedRegions: intersectRegions(a.allowedRegions, b.allowedRegions ?? 'any'),
    isolation: a.isolation === 'dedicated' || b.isolation === 'dedicated' ? 'dedicated' : 'shared',
    autoActions: sortedUnique(levels.filter(([, l]) => l === 0).map(([x]) => x)),
    approvalActions: sortedUnique(levels.filter(([, l]) => l === 1).map(([x]) => x)),
    maxAutoActionsPerHour: Math.min(a.maxAutoActionsPerHour, b.maxAutoActionsPerHour ?? Infinity),
    auditRetentionDays: Math.max(a.auditRetentionDays, b.auditRetentionDays ?? -Infinity),
    cooldownMs: Math.max(a.cooldownMs, b.cooldownMs ?? -Infinity),
    maxConcurrentShare: Math.min(a.maxConcurrentShare, b.maxConcurrentShare ?? Infinity),
    approvalTimeoutMs: Math.min(a.approvalTimeoutMs, b.approvalTimeoutMs ?? Infinity),
  };
}

/**
 * The profile a tenant is held to: for each threshold the strictest value among its frameworks'
 * presets, then the tenant's overrides merged the same way. An override can therefore only
 * tighten a threshold, never loosen it — there is no exception. `looserOverrides` lists the
 * overrides that ask for more than the frameworks allow (validation refuses those documents).
 */
export function effectiveProfile(frameworks: readonly Framework[], overrides?: Partial<ProfileThresholds>): ProfileThresholds {
  const unique = sortedUnique(frameworks);
  const base = unique.length === 0 ? BASELINE : unique.map((f) => PRESETS[f]).reduce((acc, p) => stricterOf(acc, p));
  return stricterOf(base, overrides ?? {});
}

const HIGHER_IS_STRICTER = ['availabilityTarget', 'auditRetentionDays', 'cooldownMs'] as const;
const LOWER_IS_STRICTER = ['maxTimeToRemediateMs', 'maxAutoActionsPerHour', 'maxConcurrentShare', 'approvalTimeoutMs'] as const;

/**
 * Overrides that ask for something looser than the frameworks' strictest value, each with the
 * value that binds. Leaving an action out of an override list is never looser (it tightens).
 */
export function looserOverrides(frameworks: readonly Framework[], overrides: Partial<ProfileThresholds>): { threshold: Threshold; message: string }[] {
  const base = effectiveProfile(frameworks);
  const out: { threshold: Threshold; message: string }[] = [];
  const from = (t: Threshold): string => {
    const sources = thresholdSources(frameworks, undefined, t, base[t]);
    return sources.length > 0 ? sources.join(', ') : 'the baseline';
  };
  for (const t of HIGHER_IS_STRICTER) {
    const v = overrides[t];
    if (v !== undefined && v < base[t]) out.push({ threshold: t, message: `${v} is looser than ${base[t]} required by ${from(t)}; overrides may only tighten` });
  }
  for (const t of LOWER_IS_STRICTER) {
    const v = overrides[t];
    if (v !== undefined && v > base[t]) out.push({ threshold: t, message: `${v} is looser than ${base[t]} required by ${from(t)}; overrides may only tighten` });
  }
  if (overrides.isolation === 'shared' && base.isolation === 'dedicated') {
    out.push({ threshold: 'isolation', message: `shared is looser than dedicated required by ${from('isolation')}; overrides may only tighten` });
  }
  const regions = overrides.allowedRegions;
  if (regions !== undefined && base.allowedRegions !== 'any') {
    const allowed = base.allowedRegions;
    const outside = regions === 'any' ? ['any'] : regions.filter((r) => !allowed.includes(r));
    if (outside.length > 0) {
      out.push({ threshold: 'allowedRegions', message: `${outside.join(', ')} outside ${allowed.join(', ')} allowed by ${from('allowedRegions')}; overrides may only tighten` });
    }
  }
  for (const action of overrides.autoActions ?? []) {
    if (actionLevel(base, action) > 0 && !(overrides.approvalActions ?? []).includes(action)) {
      out.push({ threshold: 'autoActions', message: `${action} may not run automatically under ${actionSources(frameworks, undefined, action, 'notAuto').join(', ') || 'the baseline'}; overrides may only tighten` });
    }
  }
  for (const action of overrides.approvalActions ?? []) {
    if (actionLevel(base, action) > 1) {
      out.push({ threshold: 'approvalActions', message: `${action} is never allowed under ${actionSources(frameworks, undefined, action, 'forbidden').join(', ') || 'the baseline'}; overrides may only tighten` });
    }
  }
  return out;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    const x = sortedUnique(a as string[]);
    const y = sortedUnique(b as string[]);
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  return a === b;
}

/**
 * Which of the tenant's frameworks (or its override) set a threshold to the value in force;
 * used to name, in every reason, the framework a rule serves.
 */
export function thresholdSources(frameworks: readonly Framework[], overrides: Partial<ProfileThresholds> | undefined, threshold: Threshold, value: unknown): string[] {
  const sources: string[] = sortedUnique(frameworks).filter((f) => sameValue(PRESETS[f][threshold], value));
  if (overrides?.[threshold] !== undefined && sameValue(overrides[threshold], value)) sources.push('tenant override');
  return sources;
}

/**
 * Frameworks (or the override) that keep `action` from running automatically (`notAuto`: level
 * 1 or more), that want it approved (`approval`), or that never allow it (`forbidden`).
 */
export function actionSources(
  frameworks: readonly Framework[],
  overrides: Partial<ProfileThresholds> | undefined,
  action: RemediationAction,
  which: 'notAuto' | 'approval' | 'forbidden',
): string[] {
  const test = (p: Partial<ProfileThresholds>): boolean => {
    const level = actionLevel(p, action);
    switch (which) {
      case 'notAuto':
        return level > 0;
      case 'approval':
        return level === 1;
      case 'forbidden':
        return level === 2;
    }
  };
  const sources: string[] = sortedUnique(frameworks).filter((f) => test(PRESETS[f]));
  if (overrides && (overrides.autoActions !== undefined || overrides.approvalActions !== undefined) && test(overrides)) sources.push('tenant override');
  return sources;
}
