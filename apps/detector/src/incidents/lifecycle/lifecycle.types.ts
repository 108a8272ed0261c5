import type { IncidentKind, IncidentSeverity, SuspectedCause } from '@autoheal/contracts';
import type { ObserverFault } from './observer-fault.js';

/** What one incident is about: at most one is open per fingerprint. */
export interface FingerprintParts {
  tenantId: string;
  service: string;
  /** An instance, or `*` for a service-level incident. */
  instance: string;
  kind: IncidentKind;
  /** Which rule (or alert fingerprint) inside the kind: error_rate has several windows, alerts many names. */
  ruleKey: string;
}

/**
 * One level observation for a fingerprint: `firing` while its open condition holds, false once
 * its resolve condition holds. Repeating the same level is normal and cheap.
 */
export interface LifecycleSignal extends FingerprintParts {
  firing: boolean;
  severity: IncidentSeverity;
  /** Epoch ms when the signal that proves the fault (or its end) happened. */
  signalAt: number;
  evidence: Record<string, unknown>;
  /** A maintenance window or a planned stop: a firing signal opens nothing. */
  suppressed?: boolean;
  /** The detector could not watch properly when the signal fired (see observer-fault.ts): the incident opens marked as a suspected detector or network fault. */
  observerFault?: ObserverFault;
}

export interface IncidentFlags {
  scope: 'instance' | 'service';
  flapping: boolean;
  suspectedCause?: SuspectedCause;
  /** Service-level only: the instances it groups, sorted. */
  members?: string[];
}

export type IncidentCommand =
  | { type: 'open'; fingerprint: string; target: FingerprintParts; severity: IncidentSeverity; signalAt: number; evidence: Record<string, unknown>; flags: IncidentFlags }
  | { type: 'update'; fingerprint: string; target: FingerprintParts; severity: IncidentSeverity; evidence: Record<string, unknown>; flags: IncidentFlags }
  | { type: 'resolve'; fingerprint: string; target: FingerprintParts; reason: string; at: number };

export interface LifecycleConfig {
  flapping: {
    /** Window in which opens are counted. */
    windowMs: number;
    /** An incident whose fingerprint opened this many times inside the window is held open instead of resolved. */
    maxOpens: number;
    /** A flapping incident resolves only after its condition has stayed resolved this long. */
    holdMs: number;
  };
  service: {
    /** Share of a service's known instances that must be failing for a service-level incident. */
    share: number;
    minInstances: number;
  };
  /** Evidence-only changes on an open incident are published at most this often; severity and flag changes at once. */
  evidenceUpdateIntervalMs: number;
}

export const DEFAULT_LIFECYCLE_CONFIG: LifecycleConfig = {
  flapping: { windowMs: 10 * 60_000, maxOpens: 3, holdMs: 60_000 },
  service: { share: 0.5, minInstances: 3 },
  evidenceUpdateIntervalMs: 30_000,
};

/** An incident open at boot, as the database remembers it. */
export interface RestoredIncident extends FingerprintParts {
  fingerprint: string;
  severity: IncidentSeverity;
  signalAt: number;
  flapping: boolean;
  suspectedCause?: SuspectedCause;
  members?: string[];
}

/** The fingerprint as one string: tokens carry no dots, and the free-form rule key comes last. */
export function fingerprintOf(p: FingerprintParts): string {
  return `${p.tenantId}.${p.service}.${p.instance}.${p.kind}.${p.ruleKey}`;
}
