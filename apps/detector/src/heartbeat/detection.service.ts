import { Inject, Injectable, Optional, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Envelope } from '@autoheal/contracts';
import { createLogger } from '@autoheal/telemetry';
import { CLOCK, type Clock } from '../clock.js';
import { DETECTOR_CONFIG, RULES_FILE } from '../detector.tokens.js';
import type { DetectorConfig } from '../config.js';
import { IncidentsService } from '../incidents/incidents.service.js';
import type { OpenIncidentRow } from '../incidents/incidents.repository.js';
import { IncidentLifecycle } from '../incidents/lifecycle/incident-lifecycle.js';
import { DEFAULT_LIFECYCLE_CONFIG, type IncidentCommand, type LifecycleConfig } from '../incidents/lifecycle/lifecycle.types.js';
import { evaluateMetrics } from '../rules/evaluate-metrics.js';
import { inMaintenance, resolveRuleConfig } from '../rules/rule-config.js';
import type { InstanceRuleState, RulesFile } from '../rules/rule.types.js';
import { alertSignal, exitedSignal, LIVENESS_KINDS, livenessFingerprint, livenessRecoveredSignal, missedHeartbeatSignal, ruleSignal } from '../signals/health-signals.js';
import { instanceSnapshotsRepository, type RuleStateSnapshot } from '../snapshots/instance-snapshots.repository.js';
import { detectorMetrics } from '../detector.metrics.js';
import { HeartbeatTracker, instanceKey, type InstanceRef } from './heartbeat-tracker.js';

const log = createLogger('detector');
const RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;
const SNAPSHOT_BATCH = 5_000;

export function lifecycleConfigFrom(config: DetectorConfig): LifecycleConfig {
  return {
    ...DEFAULT_LIFECYCLE_CONFIG,
    flapping: { windowMs: config.DETECTOR_FLAP_WINDOW_MS, maxOpens: config.DETECTOR_FLAP_MAX_OPENS, holdMs: config.DETECTOR_FLAP_HOLD_MS },
    fleet: { share: config.DETECTOR_FLEET_SHARE, minInstances: config.DETECTOR_FLEET_MIN_INSTANCES, windowMs: config.DETECTOR_FLEET_WINDOW_MS },
  };
}

/**
 * Turns health events into incidents. Heartbeats touch memory only; deadlines sit in one heap
 * with one timer. Metrics go through the rules, crashes and alerts straight to the lifecycle,
 * which decides open / update / resolve; this service only carries those commands out.
 *
 * Commands for one fingerprint run one at a time, in order, and a handler returns only once
 * its commands committed, so an acknowledged event never loses its incident. On a restart the
 * open incidents come back from the database (the truth), heartbeat and rule state from the
 * snapshot; levels repeat, so whatever the snapshot missed is re-derived, never duplicated.
 */
@Injectable()
export class DetectionService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly tracker: HeartbeatTracker;
  private readonly lifecycle: IncidentLifecycle;
  private readonly rows = new Map<string, OpenIncidentRow>();
  private readonly ruleStates = new Map<string, RuleStateSnapshot>();
  private readonly dirtyRules = new Set<string>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly db: DataSource,
    private readonly incidents: IncidentsService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DETECTOR_CONFIG) private readonly config: DetectorConfig,
    @Optional() @Inject(RULES_FILE) private readonly rules: RulesFile | undefined,
  ) {
    this.tracker = new HeartbeatTracker(config.DETECTOR_MISSED_INTERVALS);
    this.lifecycle = new IncidentLifecycle(lifecycleConfigFrom(config));
  }

  async onModuleInit(): Promise<void> {
    const now = this.now();
    const open = await this.incidents.findOpen();
    for (const row of open) this.rows.set(row.fingerprint, row);
    this.lifecycle.restore(
      open.map((r) => ({ ...r, signalAt: r.signalAt.getTime(), members: r.members, suspectedCause: r.suspectedCause })),
    );
    const { tracked, ruleStates } = await instanceSnapshotsRepository.loadAll(this.db.manager);
    this.tracker.restore(tracked, now);
    for (const t of tracked) if (t.state !== 'stopped') this.lifecycle.noteInstance(t.tenantId, t.service, t.instance);
    for (const r of ruleStates) {
      this.ruleStates.set(instanceKey(r), r);
      this.lifecycle.noteInstance(r.tenantId, r.service, r.instance);
    }
    detectorMetrics.trackedInstances.set(this.tracker.size);
    log.info({ instances: this.tracker.size, ruleStates: this.ruleStates.size, openIncidents: open.length }, 'detector state restored');
    this.schedule();
    this.snapshotTimer = setInterval(() => void this.flushSnapshots(), this.config.DETECTOR_SNAPSHOT_INTERVAL_MS);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.snapshotTimer);
    await Promise.allSettled([...this.queues.values()]);
    await this.flushSnapshots();
  }

  /** The hot path: memory only unless a liveness incident of the instance is open. */
  async onHeartbeat(event: Envelope<'health.heartbeat'>): Promise<void> {
    const now = this.now();
    // A replayed heartbeat counts from when it was sent, not when we read it; a producer's
    // clock ahead of ours counts as now.
    const seenAt = Math.min(now, Date.parse(event.occurredAt));
    const ref: InstanceRef = { tenantId: event.tenantId, service: event.data.service, instance: event.data.instance };
    const observation = this.tracker.observeHeartbeat(ref, event.data.intervalMs, seenAt);
    if (observation === 'first_seen') detectorMetrics.trackedInstances.set(this.tracker.size);
    this.lifecycle.noteInstance(ref.tenantId, ref.service, ref.instance);
    this.schedule();
    if (!this.lifecycle.hasOpenFor(ref.tenantId, ref.service, ref.instance)) return;
    const commands: IncidentCommand[] = [];
    for (const kind of LIVENESS_KINDS) {
      const since = this.lifecycle.openSignalAt(livenessFingerprint(ref, kind));
      // The instance spoke after the hang or crash began: it is back.
      if (since !== undefined && seenAt > since) commands.push(...this.lifecycle.apply(livenessRecoveredSignal(ref, kind, seenAt), now));
    }
    await this.execute(commands);
  }

  async onStopping(event: Envelope<'health.stopping'>): Promise<void> {
    const ref: InstanceRef = { tenantId: event.tenantId, service: event.data.service, instance: event.data.instance };
    this.tracker.observeStopping(ref);
    this.schedule();
    this.setRuleState(ref, undefined);
    await this.execute(this.lifecycle.forgetInstance(ref.tenantId, ref.service, ref.instance, this.now(), 'instance stopped as planned'));
  }

  /** A supervisor saw the process end: a crash opens at once, no deadline to wait out. */
  async onExited(event: Envelope<'health.exited'>): Promise<void> {
    const now = this.now();
    const ref: InstanceRef = { tenantId: event.tenantId, service: event.data.service, instance: event.data.instance };
    // The exit of an instance that announced a planned stop is expected.
    if (!this.tracker.observeExited(ref)) return;
    this.schedule();
    const signalAt = Math.min(now, Date.parse(event.occurredAt));
    const suppressed = inMaintenance(this.rules, ref.tenantId, ref.service, ref.instance, now);
    await this.execute(this.lifecycle.apply(exitedSignal(event, signalAt, suppressed), now));
  }

  async onAlert(event: Envelope<'health.alert'>): Promise<void> {
    const now = this.now();
    const suppressed = inMaintenance(this.rules, event.tenantId, event.data.service, event.data.instance, now);
    await this.execute(this.lifecycle.apply(alertSignal(event, now, suppressed), now));
  }

  async onMetrics(event: Envelope<'health.metrics'>): Promise<void> {
    const now = this.now();
    const ref: InstanceRef = { tenantId: event.tenantId, service: event.data.service, instance: event.data.instance };
    const key = instanceKey(ref);
    const previous = this.ruleStates.get(key)?.state as InstanceRuleState | undefined;
    const { state, signals } = evaluateMetrics(previous, event.data.samples, resolveRuleConfig(this.rules, ref.tenantId, ref.service), now);
    this.setRuleState(ref, state);
    if (signals.length === 0) return;
    const suppressed = inMaintenance(this.rules, ref.tenantId, ref.service, ref.instance, now);
    const commands = signals.flatMap((s) => this.lifecycle.apply(ruleSignal(ref, s, suppressed), now));
    if (commands.length === 0) return;
    await this.execute(commands);
    // The rule state that opened or resolved an incident is saved before the event is
    // acknowledged: a restart from an older state could resolve what it never saw open.
    await this.saveRuleStates([key]);
  }

  private setRuleState(ref: InstanceRef, state: unknown): void {
    const key = instanceKey(ref);
    if (state === undefined && !this.ruleStates.has(key)) return;
    this.ruleStates.set(key, { ...ref, state });
    this.dirtyRules.add(key);
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  /** Runs commands, each fingerprint's in order; resolves once all committed. */
  private async execute(commands: IncidentCommand[]): Promise<void> {
    if (commands.length === 0) return;
    await Promise.all(commands.map((c) => this.serialize(c.fingerprint, () => this.runWithRetry(c))));
  }

  private async runWithRetry(command: IncidentCommand): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.run(command);
      } catch (error) {
        // The lifecycle has moved on in memory: the database must follow, so retry rather than drop.
        if (this.stopped) throw error;
        log.error({ err: error, fingerprint: command.fingerprint, command: command.type, attempt }, 'incident command failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** attempt)));
      }
    }
  }

  private async run(command: IncidentCommand): Promise<void> {
    switch (command.type) {
      case 'open': {
        const result = await this.incidents.open(command);
        this.rows.set(command.fingerprint, result.row);
        if (result.opened) {
          detectorMetrics.incidentsOpened.inc({ kind: result.row.kind });
          detectorMetrics.detectionLatency.observe(result.detectionLatencyMs / 1000);
          log.info({ incidentId: result.row.incidentId, tenantId: result.row.tenantId, instance: result.row.instance, kind: result.row.kind }, 'incident opened');
        }
        return;
      }
      case 'update': {
        const row = this.rows.get(command.fingerprint);
        if (!row) return;
        await this.incidents.update(row, command);
        this.rows.set(command.fingerprint, { ...row, severity: command.severity, flapping: command.flags.flapping, suspectedCause: command.flags.suspectedCause, members: command.flags.members });
        return;
      }
      case 'resolve': {
        const row = this.rows.get(command.fingerprint);
        if (!row) return;
        if (await this.incidents.resolve(row, command.reason)) detectorMetrics.incidentsResolved.inc();
        this.rows.delete(command.fingerprint);
        return;
      }
    }
  }

  /** One timer, always set for the earliest deadline or held resolution: O(log n) per event, nothing per tick. */
  private schedule(): void {
    if (this.stopped) return;
    const a = this.tracker.nextDeadline();
    const b = this.lifecycle.nextDueAt();
    const next = a === undefined ? b : b === undefined ? a : Math.min(a, b);
    if (next === undefined || next >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => this.fire(), Math.max(0, next - this.now()));
  }

  private fire(): void {
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.now();
    const commands = this.lifecycle.tick(now);
    for (const missed of this.tracker.expire(now)) {
      const { target } = missed;
      const suppressed = inMaintenance(this.rules, target.tenantId, target.service, target.instance, now);
      // In a maintenance window nothing opens; look again after one more window in case it is over.
      if (suppressed) this.tracker.recheckAt(target, now + target.intervalMs * missed.missedIntervals);
      commands.push(...this.lifecycle.apply(missedHeartbeatSignal(missed, suppressed), now));
    }
    this.execute(commands).catch((error: unknown) => log.error({ err: error }, 'incident commands abandoned at shutdown'));
    this.schedule();
  }

  private serialize<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.queues.set(key, next);
    void next
      .finally(() => {
        if (this.queues.get(key) === next) this.queues.delete(key);
      })
      .catch(() => undefined);
    return next;
  }

  private async saveRuleStates(keys: Iterable<string>): Promise<void> {
    const states: RuleStateSnapshot[] = [];
    for (const key of keys) {
      const s = this.ruleStates.get(key);
      if (s) states.push(s);
      this.dirtyRules.delete(key);
    }
    for (let from = 0; from < states.length; from += SNAPSHOT_BATCH) {
      const batch = states.slice(from, from + SNAPSHOT_BATCH);
      try {
        await instanceSnapshotsRepository.upsertRuleStates(this.db.manager, batch);
      } catch (error) {
        for (const s of states.slice(from)) this.dirtyRules.add(instanceKey(s));
        throw error;
      }
      // A cleared state is gone once saved, unless a newer one arrived meanwhile.
      for (const s of batch) if (s.state === undefined && this.ruleStates.get(instanceKey(s)) === s) this.ruleStates.delete(instanceKey(s));
    }
  }

  private async flushSnapshots(): Promise<void> {
    const dirty = this.tracker.takeDirty();
    try {
      await instanceSnapshotsRepository.upsertMany(this.db.manager, dirty);
    } catch (error) {
      log.error({ err: error, instances: dirty.length }, 'snapshot failed; will retry with the next one');
      this.tracker.markDirty(dirty);
    }
    if (this.dirtyRules.size === 0) return;
    try {
      await this.saveRuleStates([...this.dirtyRules]);
    } catch (error) {
      log.error({ err: error }, 'rule state snapshot failed; will retry with the next one');
    }
  }
}
