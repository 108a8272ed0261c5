/** The instance an action is aimed at. */
export interface RemediationTarget {
  tenantId: string;
  service: string;
  instance: string;
}

/** What the driver reports back once it has an answer. */
export type DriverResult =
  | { ok: true; details: Record<string, unknown> }
  | { ok: false; error: { code: string; message: string } };

/**
 * Carries remediation actions out on real infrastructure: the local agent over NATS today;
 * an HTTP runbook webhook or Kubernetes can slot in behind the same interface.
 *
 * Contract: idempotent by remediation id — asked twice for the same remediation, a driver
 * reports the first outcome and does not act again, which is what lets the executor re-ask
 * after a crash. When no answer can be had, it throws a DriverError (the executor retries).
 */
export interface RemediationDriver {
  /** Recorded on the execution and on remediation.started. */
  readonly name: string;
  restart(target: RemediationTarget, remediationId: string): Promise<DriverResult>;
}

export const REMEDIATION_DRIVER = Symbol('REMEDIATION_DRIVER');
