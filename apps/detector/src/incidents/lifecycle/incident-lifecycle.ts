import type { IncidentKind, IncidentSeverity } from '@autoheal/contracts';
import { DeadlineHeap } from '../../heartbeat/deadline-heap.js';
import {
  fingerprintOf,
  type FingerprintParts,
  type IncidentCommand,
  type IncidentFlags,
  type LifecycleConfig,
  type LifecycleSignal,
  type RestoredIncident,
} from './lifecycle.types.js';

interface OpenIncident {
  fingerprint: string;
  target: FingerprintParts;
  severity: IncidentSeverity;
  signalAt: number;
  evidence: Record<string, unknown>;
  flags: IncidentFlags;
  lastPublishedAt: number;
  /** Set while a flapping incident waits out its hold before resolving. */
  holdUntil?: number;
}

const SEVERITY_RANK: Record<IncidentSeverity, number> = { minor: 0, major: 1, critical: 2 };
const MAX_MEMBERS = 1000;

export const SERVICE_RULE_KEY = 'service';

export function serviceFingerprintOf(tenantId: string, service: string): string {
  return `${tenantId}.${service}.*.${SERVICE_RULE_KEY}`;
}

function serviceKeyOf(tenantId: string, service: string): string {
  return `${tenantId}.${service}`;
}

/**
 * Turns level signals into incident commands, in memory, no I/O, time passed in.
 *
 * - One open incident per fingerprint; a repeated firing level updates it (severity or flag
 *   changes at once, evidence at most every `evidenceUpdateIntervalMs`).
 * - Flapping: once a fingerprint has opened `maxOpens` times inside the window, its incident is
 *   held open, marked flapping, and resolves only after the condition stayed resolved `holdMs`.
 * - Service level: when enough of a service's known instances have open incidents, one extra
 *   incident (instance `*`) groups them; the instance incidents stay.
 * - An incident whose signal says the detector could not watch properly (observer-fault.ts)
 *   opens with `suspectedCause: detector_or_network` and the fault in its evidence. Whether the
 *   fleet as a whole looks broken is not judged here: the decision service owns that judgement.
 * - A suppressed (maintenance, planned stop) firing signal opens nothing.
 */
export class IncidentLifecycle {
  private readonly open = new Map<string, OpenIncident>();
  /** Epoch ms of each open per fingerprint inside the flapping window, oldest first. */
  private readonly opens = new Map<string, number[]>();
  private readonly historyExpiry = new DeadlineHeap();
  private readonly holds = new DeadlineHeap();
  /** service key → instance → open instance-scope fingerprints of it. */
  private readonly failing = new Map<string, Map<string, Map<string, IncidentKind>>>();
  private readonly known = new Map<string, Set<string>>();

  constructor(private readonly config: LifecycleConfig) {}

  get openCount(): number {
    return this.open.size;
  }

  isOpen(fingerprint: string): boolean {
    return this.open.has(fingerprint);
  }

  /** Whether any instance-scope incident of the instance is open: two map lookups, for the heartbeat hot path. */
  hasOpenFor(tenantId: string, service: string, instance: string): boolean {
    return this.failing.get(serviceKeyOf(tenantId, service))?.has(instance) ?? false;
  }

  /** signalAt of the open incident, if any: a liveness signal older than that cannot end it. */
  openSignalAt(fingerprint: string): number | undefined {
    return this.open.get(fingerprint)?.signalAt;
  }

  /** Incidents the database holds open, for services this lifecycle takes on (at boot, or when a partition moves here). */
  restore(incidents: readonly RestoredIncident[]): void {
    for (const r of incidents) {
      const target: FingerprintParts = { tenantId: r.tenantId, service: r.service, instance: r.instance, kind: r.kind, ruleKey: r.ruleKey };
      const scope = r.instance === '*' ? 'service' : 'instance';
      this.open.set(r.fingerprint, {
        fingerprint: r.fingerprint,
        target,
        severity: r.severity,
        signalAt: r.signalAt,
        evidence: {},
        flags: { scope, flapping: r.flapping, suspectedCause: r.suspectedCause, members: r.members },
        lastPublishedAt: Number.NEGATIVE_INFINITY,
      });
      if (scope === 'instance') {
        this.noteInstance(r.tenantId, r.service, r.instance);
        this.markFailing(target, r.fingerprint);
      }
    }
  }

  /** An instance exists (it spoke): it counts towards its service's size. */
  noteInstance(tenantId: string, service: string, instance: string): void {
    const key = serviceKeyOf(tenantId, service);
    let set = this.known.get(key);
    if (!set) this.known.set(key, (set = new Set()));
    set.add(instance);
  }

  /**
   * A planned stop: every open incident of the instance resolves (no flapping hold — the stop is
   * the explanation) and the instance no longer counts towards its service.
   */
  forgetInstance(tenantId: string, service: string, instance: string, now: number, reason: string): IncidentCommand[] {
    const commands: IncidentCommand[] = [];
    const key = serviceKeyOf(tenantId, service);
    const mine = this.failing.get(key)?.get(instance);
    if (mine) for (const fp of [...mine.keys()]) this.resolve(fp, now, reason, commands);
    const set = this.known.get(key);
    if (set?.delete(instance) && set.size === 0) this.known.delete(key);
    this.regroupService(tenantId, service, now, now, commands);
    return commands;
  }

  /**
   * Lets go of every service `belongs` picks (its partition moved to another detector): open
   * incidents, flapping history and instance counts, with no commands — the incidents stay
   * open in the database for the detector that takes the services over.
   */
  forgetServices(belongs: (tenantId: string, service: string) => boolean): void {
    for (const [fingerprint, incident] of this.open) {
      if (!belongs(incident.target.tenantId, incident.target.service)) continue;
      this.open.delete(fingerprint);
      this.holds.delete(fingerprint);
    }
    for (const fingerprint of this.opens.keys()) {
      // A fingerprint starts with `<tenant>.<service>.`; subject tokens never hold a dot.
      const [tenantId, service] = fingerprint.split('.', 2);
      if (!belongs(tenantId, service)) continue;
      this.opens.delete(fingerprint);
      this.historyExpiry.delete(fingerprint);
    }
    for (const key of [...this.failing.keys()]) {
      const [tenantId, service] = key.split('.', 2);
      if (belongs(tenantId, service)) this.failing.delete(key);
    }
    for (const key of [...this.known.keys()]) {
      const [tenantId, service] = key.split('.', 2);
      if (belongs(tenantId, service)) this.known.delete(key);
    }
  }

  apply(signal: LifecycleSignal, now: number): IncidentCommand[] {
    const commands: IncidentCommand[] = [];
    const fingerprint = fingerprintOf(signal);
    const current = this.open.get(fingerprint);
    if (signal.instance !== '*') this.noteInstance(signal.tenantId, signal.service, signal.instance);
    if (signal.firing) {
      if (current) this.refresh(current, signal, now, commands);
      else if (!signal.suppressed) this.openFor(fingerprint, signal, now, commands);
    } else if (current && current.holdUntil === undefined) {
      if (current.flags.flapping || this.opensInWindow(fingerprint, now) >= this.config.flapping.maxOpens) {
        current.holdUntil = now + this.config.flapping.holdMs;
        this.holds.set(fingerprint, current.holdUntil);
        if (!current.flags.flapping) {
          current.flags = { ...current.flags, flapping: true };
          this.publishUpdate(current, now, commands);
        }
      } else {
        this.resolve(fingerprint, now, 'resolve condition holds', commands);
      }
    }
    return commands;
  }

  /** Held resolutions that came due, and housekeeping of flapping history. */
  tick(now: number): IncidentCommand[] {
    const commands: IncidentCommand[] = [];
    for (const { key } of this.holds.popDue(now)) {
      const incident = this.open.get(key);
      if (incident?.holdUntil !== undefined && incident.holdUntil <= now) {
        this.resolve(key, now, `stable for ${this.config.flapping.holdMs} ms after flapping`, commands);
      }
    }
    for (const { key } of this.historyExpiry.popDue(now)) {
      const history = this.opens.get(key);
      if (!history) continue;
      this.trim(history, now);
      if (history.length === 0) this.opens.delete(key);
      else this.historyExpiry.set(key, history[history.length - 1] + this.config.flapping.windowMs);
    }
    return commands;
  }

  /** When `tick` next has work, so the caller arms one timer instead of polling. */
  nextDueAt(): number | undefined {
    const a = this.holds.peek()?.deadline;
    const b = this.historyExpiry.peek()?.deadline;
    if (a === undefined) return b;
    if (b === undefined) return a;
    return Math.min(a, b);
  }

  private refresh(current: OpenIncident, signal: LifecycleSignal, now: number, commands: IncidentCommand[]): void {
    let urgent = false;
    if (current.holdUntil !== undefined) {
      // The condition came back while a flapping incident was held: it stays the one incident.
      this.holds.delete(current.fingerprint);
      current.holdUntil = undefined;
      this.recordOpen(current.fingerprint, now);
    }
    if (current.severity !== signal.severity) {
      current.severity = signal.severity;
      urgent = true;
    }
    current.evidence = signal.evidence;
    if (urgent || now - current.lastPublishedAt >= this.config.evidenceUpdateIntervalMs) this.publishUpdate(current, now, commands);
  }

  private openFor(fingerprint: string, signal: LifecycleSignal, now: number, commands: IncidentCommand[]): void {
    const opens = this.recordOpen(fingerprint, now);
    const target: FingerprintParts = { tenantId: signal.tenantId, service: signal.service, instance: signal.instance, kind: signal.kind, ruleKey: signal.ruleKey };
    const { observerFault } = signal;
    const incident: OpenIncident = {
      fingerprint,
      target,
      severity: signal.severity,
      signalAt: signal.signalAt,
      evidence: observerFault ? { ...signal.evidence, observerFault } : signal.evidence,
      flags: { scope: 'instance', flapping: opens > this.config.flapping.maxOpens, suspectedCause: observerFault ? 'detector_or_network' : undefined },
      lastPublishedAt: now,
    };
    this.open.set(fingerprint, incident);
    commands.push({ type: 'open', fingerprint, target, severity: incident.severity, signalAt: incident.signalAt, evidence: incident.evidence, flags: { ...incident.flags } });
    this.markFailing(target, fingerprint);
    this.regroupService(signal.tenantId, signal.service, signal.signalAt, now, commands);
  }

  private resolve(fingerprint: string, now: number, reason: string, commands: IncidentCommand[]): void {
    const incident = this.open.get(fingerprint);
    if (!incident) return;
    this.open.delete(fingerprint);
    if (incident.holdUntil !== undefined) this.holds.delete(fingerprint);
    commands.push({ type: 'resolve', fingerprint, target: incident.target, reason, at: now });
    if (incident.flags.scope === 'instance') {
      const { tenantId, service, instance } = incident.target;
      const byInstance = this.failing.get(serviceKeyOf(tenantId, service));
      const mine = byInstance?.get(instance);
      mine?.delete(fingerprint);
      if (mine?.size === 0) byInstance!.delete(instance);
      if (byInstance?.size === 0) this.failing.delete(serviceKeyOf(tenantId, service));
      this.regroupService(tenantId, service, now, now, commands);
    }
  }

  private publishUpdate(incident: OpenIncident, now: number, commands: IncidentCommand[]): void {
    incident.lastPublishedAt = now;
    commands.push({ type: 'update', fingerprint: incident.fingerprint, target: incident.target, severity: incident.severity, evidence: incident.evidence, flags: { ...incident.flags } });
  }

  private markFailing(target: FingerprintParts, fingerprint: string): void {
    const key = serviceKeyOf(target.tenantId, target.service);
    let byInstance = this.failing.get(key);
    if (!byInstance) this.failing.set(key, (byInstance = new Map<string, Map<string, IncidentKind>>()));
    let mine = byInstance.get(target.instance);
    if (!mine) byInstance.set(target.instance, (mine = new Map<string, IncidentKind>()));
    mine.set(fingerprint, target.kind);
  }

  /** Opens, updates or resolves the service-level incident after a member changed. */
  private regroupService(tenantId: string, service: string, signalAt: number, now: number, commands: IncidentCommand[]): void {
    const key = serviceKeyOf(tenantId, service);
    const byInstance = this.failing.get(key);
    const failingCount = byInstance?.size ?? 0;
    const knownCount = this.known.get(key)?.size ?? 0;
    const needed = Math.max(this.config.service.minInstances, Math.ceil(this.config.service.share * knownCount));
    const fingerprint = serviceFingerprintOf(tenantId, service);
    const current = this.open.get(fingerprint);
    if (failingCount < needed || !byInstance) {
      if (current) this.resolve(fingerprint, now, `${failingCount} of ${knownCount} instances failing, below ${needed}`, commands);
      return;
    }
    const members = [...byInstance.keys()].sort().slice(0, MAX_MEMBERS);
    const evidence = { failingInstances: failingCount, knownInstances: knownCount, threshold: needed };
    const severity = this.worstSeverity(byInstance);
    if (!current) {
      const target: FingerprintParts = { tenantId, service, instance: '*', kind: this.commonKind(byInstance), ruleKey: SERVICE_RULE_KEY };
      const incident: OpenIncident = {
        fingerprint,
        target,
        severity,
        signalAt,
        evidence,
        // The decision service counts instance incidents, not groups: a group carries no suspicion of its own.
        flags: { scope: 'service', flapping: false, members },
        lastPublishedAt: now,
      };
      this.open.set(fingerprint, incident);
      commands.push({ type: 'open', fingerprint, target, severity, signalAt, evidence, flags: { ...incident.flags } });
      return;
    }
    const before = current.flags.members?.join(',');
    if (before === members.join(',') && current.severity === severity) return;
    current.flags = { ...current.flags, members };
    current.severity = severity;
    current.evidence = evidence;
    this.publishUpdate(current, now, commands);
  }

  private worstSeverity(byInstance: Map<string, Map<string, IncidentKind>>): IncidentSeverity {
    let worst: IncidentSeverity = 'minor';
    for (const fps of byInstance.values()) {
      for (const fp of fps.keys()) {
        const s = this.open.get(fp)?.severity;
        if (s && SEVERITY_RANK[s] > SEVERITY_RANK[worst]) worst = s;
      }
    }
    return worst;
  }

  private commonKind(byInstance: Map<string, Map<string, IncidentKind>>): IncidentKind {
    const counts = new Map<IncidentKind, number>();
    for (const fps of byInstance.values()) for (const kind of fps.values()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
    let best: IncidentKind = 'heartbeat_missed';
    let bestCount = 0;
    for (const [kind, count] of counts) {
      if (count > bestCount) [best, bestCount] = [kind, count];
    }
    return best;
  }

  private recordOpen(fingerprint: string, now: number): number {
    let history = this.opens.get(fingerprint);
    if (!history) this.opens.set(fingerprint, (history = []));
    this.trim(history, now);
    history.push(now);
    this.historyExpiry.set(fingerprint, now + this.config.flapping.windowMs);
    return history.length;
  }

  private opensInWindow(fingerprint: string, now: number): number {
    const history = this.opens.get(fingerprint);
    if (!history) return 0;
    this.trim(history, now);
    return history.length;
  }

  private trim(history: number[], now: number): void {
    const from = now - this.config.flapping.windowMs;
    let drop = 0;
    while (drop < history.length && history[drop] <= from) drop++;
    if (drop > 0) history.splice(0, drop);
  }
}
