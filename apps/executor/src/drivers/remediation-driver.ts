/** The instance an action is aimed at. */
export interface RemediationTarget {
  tenantId: string;
  service: string;
  instance: string;
}

import type { EventData } from '@autoheal/contracts';

/** An answer that could not be attributed to the target's agent: what the security event says. */
export type UnattributedReply = EventData<'security.reply_rejected'>;

/**
 * What the driver reports back once it has an answer. A failure may carry `unattributed`: the
 * answer was not the target's (unsigned, unknown or wrong key…), so it is recorded as a failure
 * and raised as a security event.
 */
export type DriverResult =
  | { ok: true; details: Record<string, unknown> }
  | { ok: false; error: { code: string; message: string }; unattributed?: UnattributedReply };

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
