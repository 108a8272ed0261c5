import { z } from 'zod';
import { subjectToken } from '../subject-token.js';

/**
 * restart the process; replace it with a fresh instance; scale_out the service; failover to a
 * standby; rollback the last deployment; throttle incoming traffic; scale_in: stop the instances
 * a scale_out added, once its incident has stayed resolved (never below the declared instances);
 * arm_switchover: pre-authorise the host agent, for a while, to heal the next crash of an instance
 * of the service at once, on its own, once: by switching it to a ready warm spare, or, where the
 * arm allows it (`armHeals`), by restarting it in place (the decision taken before the fault).
 */
export const remediationAction = z.enum(['restart', 'replace', 'scale_out', 'failover', 'rollback', 'throttle', 'scale_in', 'arm_switchover']);

/**
 * The actions that heal an incident: what a playbook may list and a compliance profile allows.
 * `scale_in` is not one: it only undoes a verified scale_out, and the decision service plans it
 * itself (a tenant allows it by allowing scale_out). Nor is `arm_switchover`: the decision service
 * plans it itself when the tenant's policy would heal a crash of the service automatically with a
 * restart or replace (see apps/decision, *Armed switchover*).
 */
export const healingAction = remediationAction.exclude(['scale_in', 'arm_switchover']);

/** The heals an arm allows the agent on its own (see actionParameters.armHeals). */
export const armHeal = z.enum(['switch', 'restart']);
/** One or both; a repeated heal means the same (no refinement: the envelope check is compiled, see fast-check.ts). */
export const armHeals = z.array(armHeal).min(1).max(2);

/** A region name as a tenant's inventory states it (`eu-west-1`); also a subject token. */
export const regionName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and - (a region name)');
/** A Kubernetes object name (RFC 1123 subdomain) and namespace (RFC 1123 label). */
const kubernetesName = z.string().max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a Kubernetes object name (lower-case letters, digits, - and .)');
const kubernetesNamespace = z.string().max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a Kubernetes namespace (lower-case letters, digits and -)');
/** Names a secret the executor holds (`ACME_RUNBOOK_SECRET`); never the value. */
const secretName = z.string().regex(/^[A-Z][A-Z0-9_]{0,127}$/, 'must name a secret (upper-case letters, digits and _), never hold its value');

/**
 * How the target service runs, as its tenant's inventory declares it; it picks the executor's
 * driver. `agent`: processes a host agent supervises. `kubernetes`: a Deployment or StatefulSet
 * (the instance is a pod of it). `runbook`: the tenant's own automation, called over HTTP with a
 * request signed under the named secret (Standard Webhooks).
 */
export const remediationRuntime = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('agent') }).strict(),
  z
    .object({
      kind: z.literal('kubernetes'),
      /** Which cluster the executor's kubeconfig names (its context); absent: the executor's default. */
      cluster: kubernetesNamespace.optional(),
      namespace: kubernetesNamespace,
      workload: z.enum(['Deployment', 'StatefulSet']),
      name: kubernetesName,
    })
    .strict(),
  z
    .object({
      kind: z.literal('runbook'),
      // A pattern rather than z.url(): it compiles to the fast envelope check (fast-check.ts).
      url: z
        .string()
        .max(2048)
        .regex(/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[^\s]*)?$/, 'must be an http(s) URL: scheme, host, optional port and path'),
      secretRef: secretName,
      /** How long the runbook may take, callback included. */
      timeoutMs: z.number().int().min(100).max(600_000).optional(),
    })
    .strict(),
]);

/**
 * What an action needs besides its target, fixed by the decision service when it plans: the
 * executor never guesses. Which fields an action requires is `ACTION_PARAMETERS`; a driver
 * refuses a command that lacks one (`invalid_parameters`).
 */
export const actionParameters = z
  .object({
    /** scale_out: the service's instance count may grow to this many, never more. */
    maxInstances: z.number().int().min(1).max(1000).optional(),
    /** scale_out: scale back in once the incident has stayed resolved this long. */
    scaleInAfterMs: z.number().int().min(0).max(86_400_000).optional(),
    /** scale_in: the service's instance count never goes below this (the instances its tenant's inventory declares). */
    minInstances: z.number().int().min(1).max(1000).optional(),
    /** failover: the standby region traffic moves to, one the tenant's residency allows. */
    toRegion: regionName.optional(),
    /** rollback: the release to go back to (`previous`: the one before the current). */
    toRelease: z.string().min(1).max(128).optional(),
    /** throttle: requests per second the instance still admits. */
    limitPerSecond: z.number().positive().max(1_000_000).optional(),
    /** throttle: how long the limit holds. */
    ttlMs: z.number().int().min(1_000).max(86_400_000).optional(),
    /** arm_switchover: how long the arm holds, counted from the command's signed issuedAt (at most an hour); 0 withdraws the service's arm. */
    armTtlMs: z.number().int().min(0).max(3_600_000).optional(),
    /**
     * arm_switchover: what the agent may do on its own for a crash under the arm: `switch` to a
     * ready warm spare, `restart` the instance in place (same release) when no spare is ready.
     * Absent: `switch` only (the arms planned before restarts could be armed).
     */
    armHeals: armHeals.optional(),
  })
  .strict();

/**
 * The actions each runtime's driver carries out; the drivers declare exactly these (a test holds
 * them to it) and the executor README has the table. The decision service plans nothing else
 * for a target of that runtime (runtimeCan).
 */
export const RUNTIME_ACTIONS = {
  agent: ['restart', 'replace', 'scale_out', 'failover', 'rollback', 'throttle', 'scale_in', 'arm_switchover'],
  kubernetes: ['restart', 'replace', 'scale_out', 'rollback', 'scale_in'],
  runbook: ['restart', 'replace', 'scale_out', 'failover', 'rollback', 'throttle', 'scale_in'],
} as const satisfies Record<z.infer<typeof remediationRuntime>['kind'], readonly z.infer<typeof remediationAction>[]>;

/** A StatefulSet's pods have fixed identities and its revisions are not a Deployment's: only these apply. */
const STATEFUL_SET_ACTIONS: readonly z.infer<typeof remediationAction>[] = ['restart', 'scale_out', 'scale_in'];

/** True when a target running this way can be given this action. */
export function runtimeCan(runtime: z.infer<typeof remediationRuntime>, action: z.infer<typeof remediationAction>): boolean {
  if (runtime.kind === 'kubernetes' && runtime.workload === 'StatefulSet') return STATEFUL_SET_ACTIONS.includes(action);
  return (RUNTIME_ACTIONS[runtime.kind] as readonly string[]).includes(action);
}

/** The parameters each action requires. */
export const ACTION_PARAMETERS = {
  restart: [],
  replace: [],
  scale_out: ['maxInstances', 'scaleInAfterMs'],
  failover: ['toRegion'],
  rollback: ['toRelease'],
  throttle: ['limitPerSecond', 'ttlMs'],
  scale_in: ['minInstances'],
  arm_switchover: ['armTtlMs'],
} as const satisfies Record<z.infer<typeof remediationAction>, readonly (keyof z.infer<typeof actionParameters>)[]>;

/** Which required parameters of the action are missing, in a message; null when none is. */
export function missingParameters(action: z.infer<typeof remediationAction>, parameters: z.infer<typeof actionParameters> | undefined): string | null {
  const missing = ACTION_PARAMETERS[action].filter((name) => parameters?.[name] === undefined);
  return missing.length === 0 ? null : `${action} needs parameters.${missing.join(', parameters.')}`;
}

const target = {
  remediationId: z.uuid(),
  incidentId: z.uuid(),
  service: subjectToken,
  instance: subjectToken,
  action: remediationAction,
};

/** Every candidate the policy looked at, and why it was or was not chosen. */
export const candidateConsidered = z
  .object({ action: remediationAction, allowed: z.boolean(), reason: z.string() })
  .strict();

/** What the policy looked at to decide, kept with the decision for the auditor. */
const explanation = {
  policyVersion: z.string().min(1),
  reason: z.string().min(1),
  candidates: z.array(candidateConsidered),
  /** Inputs the policy used (profile thresholds, counters, windows), as it saw them. */
  inputs: z.record(z.string(), z.unknown()).optional(),
};

export const remediationPlannedData = z
  .object({
    ...target,
    ...explanation,
    /** Allowed candidates to try, in order, if verification of this one fails. */
    fallbacks: z.array(remediationAction).optional(),
    /** Recorded but not to be executed (tenant or playbook in dry-run mode). */
    dryRun: z.boolean().optional(),
    /** Allowed during a change freeze because the playbook marks the action as emergency. */
    emergency: z.boolean().optional(),
    /** How the target runs (absent: `agent`, as before runtimes were declared). */
    runtime: remediationRuntime.optional(),
    parameters: actionParameters.optional(),
    /**
     * How long after the driver's success the incident has to resolve (see remediation.verified)
     * and, with `windowMs`, how long the target's health must then hold (no new incident on it)
     * before the deadline.
     */
    verify: z.object({ deadlineMs: z.number().int().min(1).max(86_400_000), windowMs: z.number().int().min(1).max(86_400_000).optional() }).strict().optional(),
  })
  .strict();

export const remediationAwaitingApprovalData = remediationPlannedData.extend({ expiresAt: z.iso.datetime() }).strict();

/** Carries the approved plan's runtime and parameters: the executor acts on this event alone. */
export const remediationApprovedData = z
  .object({ ...target, approvedBy: z.string().min(1), runtime: remediationRuntime.optional(), parameters: actionParameters.optional() })
  .strict();

export const remediationRejectedData = z
  .object({ ...target, rejectedBy: z.string().min(1), reason: z.string().min(1) })
  .strict();

export const remediationEscalatedData = z
  .object({
    incidentId: z.uuid(),
    remediationId: z.uuid().optional(),
    service: subjectToken,
    instance: z.union([subjectToken, z.literal('*')]),
    ...explanation,
  })
  .strict();

/** A candidate refused by a guardrail that only paces healing: it may be allowed later. */
export const pacingRefusal = z
  .object({ action: remediationAction, rule: z.enum(['service_concurrency', 'cooldown']), reason: z.string().min(1) })
  .strict();

/**
 * Every candidate was refused only by the per-service concurrency cap or the per-target cooldown:
 * instead of escalating, the decision is taken again at `retryAt` (sooner when a slot frees), and
 * escalated once the incident has waited until `escalateAt`. Instance-level incidents only.
 */
export const remediationDeferredData = z
  .object({
    incidentId: z.uuid(),
    remediationId: z.uuid(),
    service: subjectToken,
    instance: subjectToken,
    ...explanation,
    /** When the decision is taken again at the latest. */
    retryAt: z.iso.datetime(),
    /** When the incident was first deferred. */
    deferredSince: z.iso.datetime(),
    /** Still refused by then, it escalates to a human. */
    escalateAt: z.iso.datetime(),
    refusals: z.array(pacingRefusal).min(1),
  })
  .strict();

/** An escalation was delivered to (or finally failed to reach) a paging or webhook target. */
export const remediationEscalationDeliveredData = z
  .object({
    incidentId: z.uuid(),
    target: z.string().min(1).max(200),
    kind: z.enum(['pagerduty', 'webhook']),
    outcome: z.enum(['delivered', 'failed']),
    attempts: z.number().int().positive(),
    status: z.number().int().optional(),
    error: z.string().max(1000).optional(),
    dedupKey: z.string().min(1).max(255),
  })
  .strict();

export const remediationStartedData = z.object({ ...target, executor: z.string().min(1) }).strict();

export const remediationSucceededData = z
  .object({ ...target, durationMs: z.number().nonnegative(), details: z.record(z.string(), z.unknown()) })
  .strict();

export const remediationFailedData = z
  .object({
    ...target,
    durationMs: z.number().nonnegative(),
    error: z.object({ code: z.string().min(1), message: z.string() }).strict(),
  })
  .strict();

/**
 * The remediation worked: after the driver reported success, the incident resolved (or, for an
 * incident already resolved while the action ran, at once) before the verification deadline —
 * `verifiedBy: incident_resolved`; with a verify window, the target's health then held (no new
 * incident on it) for `windowMs`, still before the deadline — `verifiedBy: health_held`.
 * `timeToRemediateMs` runs from the incident's opening to this verification: it is what the
 * time-to-remediate checks count.
 */
export const remediationVerifiedData = z
  .object({
    ...target,
    verifiedBy: z.enum(['incident_resolved', 'health_held']),
    /** With `health_held`: how long the health held after the resolution. */
    windowMs: z.number().int().min(1).max(86_400_000).optional(),
    /** When the driver reported success. */
    executedAt: z.iso.datetime(),
    timeToRemediateMs: z.number().nonnegative(),
  })
  .strict();

/**
 * The driver reported success but the incident was still open at the verification deadline, or
 * its health did not hold for the verify window before it (`reason` says which, naming a relapse):
 * the action did not fix it. The next allowed fallback runs, else the incident escalates.
 */
export const remediationVerificationFailedData = z
  .object({
    ...target,
    reason: z.string().min(1),
    executedAt: z.iso.datetime(),
    deadline: z.iso.datetime(),
  })
  .strict();

export const remediationRolledBackData = z.object({ ...target, reason: z.string().min(1) }).strict();

export type RemediationAction = z.infer<typeof remediationAction>;
export type HealingAction = z.infer<typeof healingAction>;
export type RemediationRuntime = z.infer<typeof remediationRuntime>;
export type ActionParameters = z.infer<typeof actionParameters>;
export type RemediationVerifiedData = z.infer<typeof remediationVerifiedData>;
export type RemediationVerificationFailedData = z.infer<typeof remediationVerificationFailedData>;
export type CandidateConsidered = z.infer<typeof candidateConsidered>;
export type RemediationPlannedData = z.infer<typeof remediationPlannedData>;
export type RemediationEscalatedData = z.infer<typeof remediationEscalatedData>;
export type RemediationDeferredData = z.infer<typeof remediationDeferredData>;
export type PacingRefusal = z.infer<typeof pacingRefusal>;
export type RemediationEscalationDeliveredData = z.infer<typeof remediationEscalationDeliveredData>;
export type RemediationStartedData = z.infer<typeof remediationStartedData>;
export type RemediationSucceededData = z.infer<typeof remediationSucceededData>;
export type RemediationFailedData = z.infer<typeof remediationFailedData>;
