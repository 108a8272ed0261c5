import {
  missingParameters,
  type ActionParameters,
  type EventData,
  type RemediationAction,
  type RemediationRuntime,
} from '@autoheal/contracts';

/** The instance an action is aimed at. */
export interface RemediationTarget {
  tenantId: string;
  service: string;
  instance: string;
}

/** Everything a driver needs to carry one remediation out; it comes from the plan alone. */
export interface DriverCommand extends RemediationTarget {
  /** The idempotency key: asked again for the same id, a driver reports the first outcome and does not act again. */
  remediationId: string;
  action: RemediationAction;
  parameters: ActionParameters;
  runtime: RemediationRuntime;
}

/** An answer that could not be attributed to the target's agent: what the security event says. */
export type UnattributedReply = EventData<'security.reply_rejected'>;

/** The verbs of DriverEffect: the one vocabulary every driver (and every runbook) reports in. */
export const DRIVER_EFFECT_VERBS = ['restarted', 'started', 'stopped', 'scaled', 'rolled_back', 'promoted', 'routed', 'throttled', 'called', 'armed'] as const;

/**
 * One change a driver made to the world, in one vocabulary for every driver, so that what it
 * reports can be compared with what the target saw (the conformance suite does exactly that).
 * `object` names what was acted on: an instance, a pod, a Deployment, a runbook URL.
 */
export interface DriverEffect {
  verb: (typeof DRIVER_EFFECT_VERBS)[number];
  object: string;
  detail?: Record<string, unknown>;
}

/**
 * What the driver reports back once it has an answer. Success lists every effect, in order;
 * `replayed` says the remediation had been carried out before and nothing was done now (the
 * effects are the first time's). A failure may carry `unattributed`: the answer was not the
 * target's (unsigned, unknown or wrong key…), so it is recorded as a failure and raised as a
 * security event.
 */
export type DriverResult =
  | { ok: true; effects: DriverEffect[]; replayed: boolean; details: Record<string, unknown> }
  | { ok: false; error: { code: DriverRefusal | string; message: string }; unattributed?: UnattributedReply };

/** Refusals every driver gives the same way. Nothing was done for any of them. */
export enum DriverRefusal {
  /** The target is not one the driver's runtime knows (no such instance, pod or workload). */
  UnknownTarget = 'unknown_target',
  /** The driver cannot carry this action out for its runtime (see the executor README's table). */
  UnsupportedAction = 'unsupported_action',
  /** The plan lacks a parameter the action needs, or carries one the target cannot take. */
  InvalidParameters = 'invalid_parameters',
  /** No driver is registered for the runtime the plan names. */
  NoDriver = 'no_driver',
}

/**
 * Carries remediation actions out on real infrastructure, one implementation per runtime
 * (`agent`, `kubernetes`, `runbook`).
 *
 * Contract (every driver passes test-support/driver-conformance.ts):
 * - idempotent by remediation id: asked twice, it reports the first outcome and does not act again;
 * - bounded in time: when no answer can be had in its timeout, it throws a DriverError (the
 *   executor retries, then reports a failure);
 * - refuses a target its runtime does not know (`unknown_target`), having done nothing;
 * - reports exactly what it did (`effects`).
 * Unsupported actions and missing parameters are refused before a driver is asked (precheck).
 */
export interface RemediationDriver {
  /** Recorded on the execution and on remediation.started. */
  readonly name: string;
  readonly runtime: RemediationRuntime['kind'];
  /** The actions it carries out; any other is refused with `unsupported_action`. */
  readonly actions: readonly RemediationAction[];
  perform(command: DriverCommand): Promise<DriverResult>;
}

/** Every registered driver, one per runtime. */
export const REMEDIATION_DRIVERS = Symbol('REMEDIATION_DRIVERS');

/** The refusals that need no driver call: no driver for the runtime, an action it cannot do, a missing parameter. */
export function precheck(driver: RemediationDriver | undefined, command: DriverCommand): Extract<DriverResult, { ok: false }> | null {
  if (!driver) return { ok: false, error: { code: DriverRefusal.NoDriver, message: `no driver is registered for runtime ${command.runtime.kind}` } };
  if (driver.runtime !== command.runtime.kind) {
    return { ok: false, error: { code: DriverRefusal.NoDriver, message: `driver ${driver.name} runs ${driver.runtime} targets, not ${command.runtime.kind}` } };
  }
  if (!driver.actions.includes(command.action)) {
    return { ok: false, error: { code: DriverRefusal.UnsupportedAction, message: `driver ${driver.name} cannot ${command.action} (it can ${driver.actions.join(', ')})` } };
  }
  const missing = missingParameters(command.action, command.parameters);
  if (missing) return { ok: false, error: { code: DriverRefusal.InvalidParameters, message: missing } };
  return null;
}

/** Asks the driver after the prechecks: the one path the executor and the conformance suite both take. */
export async function performChecked(driver: RemediationDriver | undefined, command: DriverCommand): Promise<DriverResult> {
  const refused = precheck(driver, command);
  if (refused || !driver) return refused ?? { ok: false, error: { code: DriverRefusal.NoDriver, message: 'no driver' } };
  return driver.perform(command);
}

/** The driver for a runtime among those registered. */
export function driverFor(drivers: readonly RemediationDriver[], runtime: RemediationRuntime['kind']): RemediationDriver | undefined {
  return drivers.find((d) => d.runtime === runtime);
}
