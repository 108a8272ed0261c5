import { z } from 'zod';
import { healingAction, incidentKind, incidentSeverity, type HealingAction, type IncidentKind, type IncidentSeverity } from '@autoheal/contracts';

/** When a candidate applies; every condition given must hold. */
export const playbookConditionSchema = z
  .object({
    /** The incident is at least this severe (minor < major < critical). */
    minSeverity: incidentSeverity.optional(),
    /** The incident is about one instance or a whole service. */
    scope: z.enum(['instance', 'service']).optional(),
    /** At most this many actions were already tried for the incident (0: only as the first action). */
    maxPreviousAttempts: z.number().int().nonnegative().optional(),
  })
  .strict();

export const playbookCandidateSchema = z
  .object({
    action: healingAction,
    when: playbookConditionSchema.optional(),
    /** May run during a change freeze; the plan is marked and audited as an emergency change. */
    emergency: z.boolean().optional(),
    /** Plan this candidate but do not execute it. */
    dryRun: z.boolean().optional(),
  })
  .strict();

/** Mirrors DEFAULT_VERIFY_DEADLINE_MS (policy/execution-spec.ts): a window must end before the deadline it runs under. */
const DEFAULT_DEADLINE_MS = 60_000;

export const playbookVerifySchema = z
  .object({
    /** How long after the driver reports success the incident has to resolve (and its window hold) for the action to count as verified. */
    deadlineMs: z.number().int().min(1_000).max(86_400_000).optional(),
    /**
     * Once the incident resolves, how long the target's health must hold — no new incident on
     * the same service and instance — before the action counts as verified. Absent: verified at
     * the resolution.
     */
    windowMs: z.number().int().min(1_000).max(86_400_000).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const deadline = v.deadlineMs ?? DEFAULT_DEADLINE_MS;
    // A window as long as the deadline could never be held in time: the driver's success and the
    // resolution both come after the deadline's start.
    if (v.windowMs !== undefined && v.windowMs >= deadline) {
      ctx.addIssue({ code: 'custom', path: ['windowMs'], message: `windowMs (${v.windowMs}) must be shorter than the verify deadline (${deadline} ms${v.deadlineMs === undefined ? ', the default' : ''})` });
    }
  });

export const playbookSchema = z
  .object({
    /** Every plan made from this playbook is recorded but not executed. */
    dryRun: z.boolean().optional(),
    /** In order of preference: the first allowed one is planned, the other allowed ones are fallbacks. */
    candidates: z.array(playbookCandidateSchema).min(1).max(6),
    verify: playbookVerifySchema.optional(),
  })
  .strict();

export const playbooksSchema = z.partialRecord(incidentKind, playbookSchema);

export type PlaybookCondition = z.infer<typeof playbookConditionSchema>;
export type PlaybookCandidate = z.infer<typeof playbookCandidateSchema>;
export type Playbook = z.infer<typeof playbookSchema>;
export type Playbooks = z.infer<typeof playbooksSchema>;

const c = (action: HealingAction, extra: Omit<PlaybookCandidate, 'action'> = {}): PlaybookCandidate => ({ action, ...extra });

/**
 * The playbook for every incident kind, used where a tenant document names none. Restart comes
 * first wherever the process itself may be at fault, because it is the least invasive action
 * and every preset allows it automatically; placement actions follow as fallbacks. Restart is
 * marked emergency for dead or hung processes: during a change freeze a dead process is still
 * brought back, and the plan says so.
 */
export const DEFAULT_PLAYBOOKS: Readonly<Record<IncidentKind, Playbook>> = {
  // Dead or hung: bring it back, or replace it with a fresh instance when restarting did not help.
  crashed: { candidates: [c('restart', { emergency: true }), c('replace')] },
  heartbeat_missed: { candidates: [c('restart', { emergency: true }), c('replace')] },
  // Errors usually follow a change: undo it first; restart clears a poisoned process.
  error_rate: { candidates: [c('rollback'), c('restart')] },
  // Slow under load: add capacity, else shed load.
  latency: { candidates: [c('scale_out'), c('throttle')] },
  // Out of a resource: add capacity, or move off the exhausted host.
  saturation: { candidates: [c('scale_out'), c('replace')] },
  // About to fail (forecast): replace before it does; no emergency, it has not failed yet.
  predicted: { candidates: [c('replace')] },
  // Error budget burning: undo the last change, else shed load to protect the budget.
  slo_burn: { candidates: [c('rollback'), c('throttle')] },
  // Generic signals: the least invasive action, then a fresh instance.
  alert: { candidates: [c('restart'), c('replace')] },
  anomaly: { candidates: [c('restart'), c('replace')] },
  check_failed: { candidates: [c('restart'), c('replace')] },
};

/** The tenant's playbook for a kind when it has one, else the default. */
export function playbookFor(kind: IncidentKind, playbooks: Playbooks | undefined): { playbook: Playbook; source: 'tenant' | 'default' } {
  const own = playbooks?.[kind];
  return own ? { playbook: own, source: 'tenant' } : { playbook: DEFAULT_PLAYBOOKS[kind], source: 'default' };
}

const SEVERITY_RANK: Record<IncidentSeverity, number> = { minor: 0, major: 1, critical: 2 };

/** Why a candidate's conditions do not hold for the incident, or null when they hold. */
export function unmetCondition(
  when: PlaybookCondition | undefined,
  incident: { severity: IncidentSeverity; scope?: 'instance' | 'service'; instance: string },
  previousAttempts: number,
): string | null {
  if (!when) return null;
  if (when.minSeverity !== undefined && SEVERITY_RANK[incident.severity] < SEVERITY_RANK[when.minSeverity]) {
    return `the playbook applies it from severity ${when.minSeverity}; the incident is ${incident.severity}`;
  }
  const scope = incident.scope ?? (incident.instance === '*' ? 'service' : 'instance');
  if (when.scope !== undefined && when.scope !== scope) return `the playbook applies it to ${when.scope}-scoped incidents; this one is ${scope}-scoped`;
  if (when.maxPreviousAttempts !== undefined && previousAttempts > when.maxPreviousAttempts) {
    return `the playbook applies it after at most ${when.maxPreviousAttempts} earlier attempts; ${previousAttempts} were made`;
  }
  return null;
}
