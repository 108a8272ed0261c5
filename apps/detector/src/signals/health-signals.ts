import type { Envelope, IncidentSeverity } from '@autoheal/contracts';
import type { RuleSignal } from '../rules/rule.types.js';
import type { InstanceRef, MissedHeartbeat } from '../heartbeat/heartbeat-tracker.js';
import { fingerprintOf, type LifecycleSignal } from '../incidents/lifecycle/lifecycle.types.js';

/** Liveness incidents (hang, crash) have one rule each; the key is the kind. */
export const LIVENESS_KINDS = ['heartbeat_missed', 'crashed'] as const;
export type LivenessKind = (typeof LIVENESS_KINDS)[number];

export function livenessFingerprint(ref: InstanceRef, kind: LivenessKind): string {
  return fingerprintOf({ ...ref, kind, ruleKey: kind });
}

/** Severity of a hang: every instance of a tenant's API answers its users, so a hang is major by default. */
export function severityForMissedHeartbeat(missed: MissedHeartbeat): IncidentSeverity {
  return missed.missedIntervals >= 10 ? 'critical' : 'major';
}

export function missedHeartbeatSignal(missed: MissedHeartbeat, suppressed: boolean): LifecycleSignal {
  const { target } = missed;
  return {
    tenantId: target.tenantId,
    service: target.service,
    instance: target.instance,
    kind: 'heartbeat_missed',
    ruleKey: 'heartbeat_missed',
    firing: true,
    severity: severityForMissedHeartbeat(missed),
    signalAt: missed.deadlineAt,
    suppressed,
    evidence: {
      lastHeartbeatAt: new Date(target.lastSeenAt).toISOString(),
      intervalMs: target.intervalMs,
      missedIntervals: missed.missedIntervals,
      deadlineAt: new Date(missed.deadlineAt).toISOString(),
    },
  };
}

/** The instance spoke at `seenAt`: a liveness incident that began before that is over. */
export function livenessRecoveredSignal(ref: InstanceRef, kind: LivenessKind, seenAt: number): LifecycleSignal {
  return { ...ref, kind, ruleKey: kind, firing: false, severity: 'minor', signalAt: seenAt, evidence: { recoveredAt: new Date(seenAt).toISOString() } };
}

/** A supervisor saw the process end: a crash is known from the event itself, no deadline. */
export function exitedSignal(event: Envelope<'health.exited'>, signalAt: number, suppressed: boolean): LifecycleSignal {
  const { service, instance, exitCode, signal, observedBy, switchedUnderArm, restartedUnderArm } = event.data;
  return {
    tenantId: event.tenantId,
    service,
    instance,
    kind: 'crashed',
    ruleKey: 'crashed',
    firing: true,
    severity: 'major',
    signalAt,
    suppressed,
    // An agent that switched the instance to a warm spare under an armed switchover says so: the incident's trail shows the arm.
    evidence: { exitCode, signal, observedBy, ...(switchedUnderArm ? { switchedUnderArm } : {}), ...(restartedUnderArm ? { restartedUnderArm } : {}) },
  };
}

/** Alertmanager severities are free text; the common ones map, anything else is major. */
export function alertSeverity(severity: string | undefined): IncidentSeverity {
  switch (severity?.toLowerCase()) {
    case 'critical':
    case 'page':
    case 'error':
      return 'critical';
    case 'warning':
    case 'warn':
    case 'info':
    case 'minor':
      return 'minor';
    default:
      return 'major';
  }
}

/** A firing alert is one incident per Alertmanager fingerprint; its resolution resolves it. */
export function alertSignal(event: Envelope<'health.alert'>, now: number, suppressed: boolean): LifecycleSignal {
  const a = event.data;
  const firing = a.status === 'firing';
  const at = firing ? Date.parse(a.startsAt) : a.endsAt ? Date.parse(a.endsAt) : Date.parse(event.occurredAt);
  return {
    tenantId: event.tenantId,
    service: a.service,
    instance: a.instance,
    kind: 'alert',
    ruleKey: a.fingerprint,
    firing,
    severity: alertSeverity(a.severity),
    // A producer clock ahead of ours counts as now.
    signalAt: Math.min(now, at),
    suppressed,
    evidence: { alertname: a.alertname, startsAt: a.startsAt, labels: a.labels, annotations: a.annotations },
  };
}

export function ruleSignal(ref: InstanceRef, s: RuleSignal, suppressed: boolean): LifecycleSignal {
  return { ...ref, kind: s.kind, ruleKey: s.key, firing: s.firing, severity: s.severity, signalAt: s.signalAt, evidence: s.evidence, suppressed };
}
