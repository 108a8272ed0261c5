import { Inject, Injectable, Optional, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { DataSource } from 'typeorm';
import type { Envelope } from '@autoheal/contracts';
import { jetstreamManager } from '@nats-io/jetstream';
import { NATS_CONNECTION, provisionConsumer } from '@autoheal/messaging';
import { createLogger } from '@autoheal/telemetry';
import { CLOCK, type Clock } from '../clock.js';
import { DETECTOR_CONFIG, RULES_FILE } from '../detector.tokens.js';
import type { DetectorConfig } from '../config.js';
import { IncidentWriter, type EventCause } from '../incidents/incident-writer.js';
import { IncidentsService } from '../incidents/incidents.service.js';
import { IncidentLifecycle } from '../incidents/lifecycle/incident-lifecycle.js';
import { DEFAULT_LIFECYCLE_CONFIG, type IncidentCommand, type LifecycleConfig } from '../incidents/lifecycle/lifecycle.types.js';
import { observerFault, type ObserverFacts } from '../incidents/lifecycle/observer-fault.js';
import { evaluateMetrics } from '../rules/evaluate-metrics.js';
import { inMaintenance, resolveRuleConfig } from '../rules/rule-config.js';
import type { InstanceRuleState, RulesFile } from '../rules/rule.types.js';
import { alertSignal, exitedSignal, LIVENESS_KINDS, livenessFingerprint, livenessRecoveredSignal, missedHeartbeatSignal, ruleSignal } from '../signals/health-signals.js';
import { instanceSnapshotsRepository, type RuleStateSnapshot } from '../snapshots/instance-snapshots.repository.js';
import { detectorMetrics } from '../detector.metrics.js';
import { healthStreamBounds, replayHealth } from '../partitioning/health-replay.js';
import { partitionCheckpointsRepository } from '../partitioning/partition-checkpoints.repository.js';
import { partitionOf, partitionOfSubject } from '../partitioning/partition-hash.js';
import { PartitionOwnership, type OwnershipChange } from '../partitioning/partition-ownership.js';
import { StreamPositions } from '../partitioning/stream-positions.js';
import { healthConsumerSpec } from './health-consumer.js';
import { HeartbeatTracker, instanceKey, type InstanceRef } from './heartbeat-tracker.js';
import { InstanceQuota, InstanceQuotaExceeded, instanceStateOf } from './instance-quota.js';

const log = createLogger('detector');
const SNAPSHOT_BATCH = 5_000;
/** A tenant over its instance quota is logged at most once per this long (the metric counts every refusal). */
const QUOTA_LOG_WINDOW_MS = 60_000;

export function lifecycleConfigFrom(config: DetectorConfig): LifecycleConfig {
  return {
    ...DEFAULT_LIFECYCLE_CONFIG,
    flapping: { windowMs: config.DETECTOR_FLAP_WINDOW_MS, maxOpens: config.DETECTOR_FLAP_MAX_OPENS, holdMs: config.DETECTOR_FLAP_HOLD_MS },
  };
}

/**
 * Turns health events into incidents, for the partitions of the fleet this detector owns.
 * Heartbeats touch memory only; deadlines sit in one heap with one timer. Metrics go through
 * the rules, crashes and alerts straight to the lifecycle, which decides open / update /
 * resolve; the IncidentWriter carries those commands out, and a handler returns only once its
 * commands committed, so an acknowledged event never loses its incident.
 *
 * Partitions: every detector reads the whole health stream on a consumer of its own and
 * applies the events of the partitions it owns (see PartitionOwnership). Taking a partition
 * over — at boot, or from a detector that stopped or died — loads its open incidents (the
 * truth) and saved instance state, then reads the stream again from where that state was
 * saved: events the saved state lacks are applied to it, and those whose incident changes
 * were already committed (by whoever owned the partition then) change no incident again.
 * So a handover loses no incident and repeats none.
 */
@Injectable()
export class DetectionService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly tracker: HeartbeatTracker;
  private readonly quota: InstanceQuota;
  /** Tenant → when its instance quota refusal was last logged. */
  private readonly quotaLoggedAt = new Map<string, number>();
  /** Instances forgotten since the last snapshot: their saved state is deleted with it. */
  private readonly forgotten = new Map<string, InstanceRef>();
  private lastIdleSweep = Number.NEGATIVE_INFINITY;
  private readonly lifecycle: IncidentLifecycle;
  private readonly ownership: PartitionOwnership;
  private readonly partitions: number;
  private readonly writer: IncidentWriter;
  private readonly ruleStates = new Map<string, RuleStateSnapshot>();
  private readonly dirtyRules = new Set<string>();
  /** The partitions loaded here and where each stands in the stream. */
  private readonly positions = new StreamPositions();
  private handling = 0;
  private readonly idleWaiters: (() => void)[] = [];
  /** Takeovers and handovers, one at a time; live events wait while one runs. */
  private handover: Promise<void> = Promise.resolve();
  private handoverRunning = false;
  private takingOver = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly db: DataSource,
    private readonly incidents: IncidentsService,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DETECTOR_CONFIG) private readonly config: DetectorConfig,
    @Optional() @Inject(RULES_FILE) private readonly rules: RulesFile | undefined,
  ) {
    this.tracker = new HeartbeatTracker(config.DETECTOR_MISSED_INTERVALS, config.DETECTOR_LAST_SEEN_PRECISION_MS);
    this.quota = new InstanceQuota(config.DETECTOR_MAX_INSTANCES_PER_TENANT);
    this.lifecycle = new IncidentLifecycle(lifecycleConfigFrom(config));
    this.partitions = config.DETECTOR_PARTITIONS;
    this.writer = new IncidentWriter(incidents, (m, cause) => partitionCheckpointsRepository.recordIncidentCause(m, this.partitions, cause.partition, cause.seq));
    this.ownership = new PartitionOwnership(nc, {
      memberId: config.DETECTOR_MEMBER_ID,
      partitions: this.partitions,
      heartbeatMs: config.DETECTOR_MEMBER_HEARTBEAT_MS,
      ttlMs: config.DETECTOR_MEMBER_TTL_MS,
      clock,
    });
    this.ownership.onChange((change) => this.onOwnershipChange(change));
  }

  /**
   * Creates this detector's consumer first (it starts at the next event stored), then joins
   * the detectors and takes over its partitions: everything stored before the consumer began
   * comes from the takeover's reading of the stream, everything after from the consumer.
   */
  async onModuleInit(): Promise<void> {
    await provisionConsumer(await jetstreamManager(this.nc), healthConsumerSpec(this.config));
    await this.ownership.start();
    await this.settled();
    this.snapshotTimer = setInterval(() => void this.flushSnapshots(), this.config.DETECTOR_SNAPSHOT_INTERVAL_MS);
  }

  /** Saves everything, then leaves the detectors, so that the others take over at once from the saved state. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.writer.stop();
    clearTimeout(this.timer);
    clearInterval(this.snapshotTimer);
    await this.settled();
    await this.writer.settled();
    await this.flushSnapshots();
    await this.ownership.stop();
  }

  /** Whether this detector applies events of the subject's partition: the consumer acknowledges the rest unread. */
  acceptsSubject(subject: string): boolean {
    const partition = partitionOfSubject(subject, this.partitions);
    return partition !== undefined && this.ownership.ownsPartition(partition);
  }

  /** Resolves once no takeover or handover is running. */
  async settled(): Promise<void> {
    while (this.handoverRunning) await this.handover;
  }

  /**
   * A health event from the live consumer, at stream sequence `seq`. Returns a promise only when
   * there is something to wait for (a handover, an incident write): a heartbeat that changes no
   * incident — nearly all of them — is applied synchronously, without the half-dozen promises an
   * async chain costs per event (each one also runs the tracing context's async hooks).
   */
  handle(subject: string, event: Envelope, seq: number): Promise<void> | undefined {
    if (this.handoverRunning) return this.settled().then(() => this.handleNow(subject, event, seq));
    return this.handleNow(subject, event, seq);
  }

  private handleNow(subject: string, event: Envelope, seq: number): Promise<void> | undefined {
    const partition = partitionOfSubject(subject, this.partitions);
    if (!this.positions.shouldApply(partition, seq)) return undefined;
    this.handling++;
    let pending: Promise<void> | undefined;
    try {
      pending = this.apply(event, { partition, seq }, true);
    } catch (error) {
      // Refused, and done with: nothing of it is state to replay.
      if (error instanceof InstanceQuotaExceeded) this.positions.handled(seq);
      this.handled();
      throw error;
    }
    if (pending === undefined) {
      this.positions.handled(seq);
      this.handled();
      return undefined;
    }
    return pending.then(() => this.positions.handled(seq)).finally(() => this.handled());
  }

  private handled(): void {
    if (--this.handling === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
  }

  /**
   * Applies one event; undefined when it was done synchronously. `live` false: the incident
   * changes it causes were committed before (by the partition's previous owner), so it only
   * brings heartbeat and rule state up to date and leaves the lifecycle — which mirrors the
   * database — alone.
   */
  private apply(event: Envelope, cause: EventCause, live: boolean): Promise<void> | undefined {
    // Whatever would create state for an instance of a tenant at its cap is refused first; a
    // planned stop creates none. Replayed, such an event was refused live already: skipped.
    const adds = instanceStateOf(event);
    if (adds !== undefined && !this.quota.admit(adds, this.now())) {
      if (!live) return undefined;
      throw this.overQuota(adds);
    }
    switch (event.type) {
      case 'health.heartbeat':
        return this.onHeartbeat(event, cause, live);
      case 'health.stopping':
        return this.onStopping(event, cause, live);
      case 'health.metrics':
        return this.onMetrics(event, cause, live);
      case 'health.exited':
        return this.onExited(event, cause, live);
      case 'health.alert':
        return live ? this.onAlert(event, cause) : undefined;
      default:
        // Only health.* is routed here; anything else is ignored.
        return undefined;
    }
  }

  /** The hot path: memory only, and synchronous, unless a liveness incident of the instance is open. */
  private onHeartbeat(event: Envelope<'health.heartbeat'>, cause: EventCause, live: boolean): Promise<void> | undefined {
    const now = this.now();
    // A replayed heartbeat counts from when it was sent, not when we read it; a producer's
    // clock ahead of ours counts as now.
    const seenAt = Math.min(now, Date.parse(event.occurredAt));
    const ref: InstanceRef = { tenantId: event.tenantId, service: event.data.service, instance: event.data.instance };
    const observation = this.tracker.observeHeartbeat(ref, event.data.intervalMs, seenAt);
    // Sent before the instance's stop or exit we recorded: it says nothing about the instance now.
    if (observation === 'stale') return undefined;
    if (observation === 'first_seen') detectorMetrics.trackedInstances.set(this.tracker.size);
    this.lifecycle.noteInstance(ref.tenantId, ref.service, ref.instance);
    this.schedule();
    if (!live || !this.lifecycle.hasOpenFor(ref.tenantId, ref.service, ref.instance)) return undefined;
    const commands: IncidentCommand[] = [];
    for (const kind of LIVENESS_KINDS) {
      const since = this.lifecycle.openSignalAt(livenessFingerprint(ref, kind));
      // The instance spoke after the hang or crash began: it is back.
      if (since !== undefined && seenAt > since) commands.push(...this.lifecycle.apply(livenessRecoveredSignal(ref, kind, seenAt), now));
    }
    return commands.length === 0 ? undefined : this.writer.execute(commands, cause);
  }

  private async onStopping(event: Envelope<'health.stopping'>, cause: EventCause, live: boolean): Promise<void> {
    const ref: InstanceRef = { tenantId: event.tenantId, service: event.data.service, instance: event.data.instance };
    this.tracker.observeStopping(ref, Math.min(this.now(), Date.parse(event.occurredAt)));
    this.schedule();
    this.setRuleState(ref, undefined);
    const commands = this.lifecycle.forgetInstance(ref.tenantId, ref.service, ref.instance, this.now(), 'instance stopped as planned');
    // Replayed: the resolutions were committed already; the lifecycle only forgets the instance.
    if (live) await this.writer.execute(commands, cause);
  }

  /** A supervisor saw the process end: a crash opens at once, no deadline to wait out. */
  private async onExited(event: Envelope<'health.exited'>, cause: EventCause, live: boolean): Promise<void> {
    const now = this.now();
    const ref: InstanceRef = { tenantId: event.tenantId, service: event.data.service, instance: event.data.instance };
    const signalAt = Math.min(now, Date.parse(event.occurredAt));
    // The exit of an instance that announced a planned stop is expected.
    if (!this.tracker.observeExited(ref, signalAt)) return;
    this.schedule();
    if (!live) return;
    const suppressed = inMaintenance(this.rules, ref.tenantId, ref.service, ref.instance, now);
    await this.writer.execute(this.lifecycle.apply(exitedSignal(event, signalAt, suppressed), now), cause);
  }

  private async onAlert(event: Envelope<'health.alert'>, cause: EventCause): Promise<void> {
    const now = this.now();
    const suppressed = inMaintenance(this.rules, event.tenantId, event.data.service, event.data.instance, now);
    await this.writer.execute(this.lifecycle.apply(alertSignal(event, now, suppressed), now), cause);
  }

  private async onMetrics(event: Envelope<'health.metrics'>, cause: EventCause, live: boolean): Promise<void> {
    const now = this.now();
    const ref: InstanceRef = { tenantId: event.tenantId, service: event.data.service, instance: event.data.instance };
    const key = instanceKey(ref);
    const previous = this.ruleStates.get(key)?.state as InstanceRuleState | undefined;
    const { state, signals } = evaluateMetrics(previous, event.data.samples, resolveRuleConfig(this.rules, ref.tenantId, ref.service), now);
    this.setRuleState(ref, state);
    if (!live || signals.length === 0) return;
    const suppressed = inMaintenance(this.rules, ref.tenantId, ref.service, ref.instance, now);
    const commands = signals.flatMap((s) => this.lifecycle.apply(ruleSignal(ref, s, suppressed), now));
    if (commands.length === 0) return;
    await this.writer.execute(commands, cause);
    // The rule state that opened or resolved an incident is saved before the event is
    // acknowledged: a restart from an older state could resolve what it never saw open.
    await this.saveRuleState(key);
  }

  /**
   * For HTTP ingest, before it publishes: the refusal an event of this instance would meet here
   * (counted and logged like one), or null. Only the owner of the instance's partition counts its
   * tenant's instances, so for another partition the answer is null and its owner decides.
   */
  refusalOfNewInstance(ref: InstanceRef): InstanceQuotaExceeded | null {
    const owned = this.ownership.ownsPartition(partitionOf(ref.tenantId, ref.service, this.partitions));
    return owned && this.quota.wouldRefuse(ref) ? this.overQuota(ref) : null;
  }

  private overQuota(ref: InstanceRef): InstanceQuotaExceeded {
    detectorMetrics.instanceQuotaExceeded.inc({ tenant: ref.tenantId });
    const now = this.now();
    const last = this.quotaLoggedAt.get(ref.tenantId);
    if (last === undefined || now - last >= QUOTA_LOG_WINDOW_MS) {
      this.quotaLoggedAt.set(ref.tenantId, now);
      log.warn({ tenantId: ref.tenantId, service: ref.service, instance: ref.instance, maxPerTenant: this.quota.maxPerTenant }, 'tenant at its instance quota: events of new instances are refused');
    }
    return new InstanceQuotaExceeded(ref, this.quota.maxPerTenant);
  }

  private onOwnershipChange(change: OwnershipChange): void {
    if (this.stopped) return;
    this.handoverRunning = true;
    this.handover = this.handover
      .then(async () => {
        // Losses first: a partition leaving and one arriving never hold each other up.
        if (change.lost.length > 0) await this.release(change.lost);
        if (change.gained.length > 0) await this.takeOver(change.gained);
      })
      .catch((error: unknown) => log.error({ err: error, gained: change.gained.length, lost: change.lost.length }, 'partition handover failed'))
      .finally(() => {
        this.handoverRunning = false;
      });
  }

  /** Loads the partitions' incidents and saved state, then reads the stream from where that state was saved. */
  private async takeOver(partitions: number[]): Promise<void> {
    await this.idle();
    const mine = new Set(partitions.filter((p) => !this.positions.isLoaded(p)));
    if (mine.size === 0) return;
    this.takingOver = true;
    try {
      await this.load(mine);
    } finally {
      this.takingOver = false;
    }
  }

  private async load(mine: Set<number>): Promise<void> {
    const started = Date.now();
    const belongs = (tenantId: string, service: string) => mine.has(partitionOf(tenantId, service, this.partitions));
    const now = this.now();
    const checkpoints = await partitionCheckpointsRepository.load(this.db.manager, this.partitions, [...mine]);
    const { lastSeq } = await healthStreamBounds(this.nc);

    const open = (await this.incidents.findOpen()).filter((r) => belongs(r.tenantId, r.service));
    this.writer.adopt(open);
    this.lifecycle.restore(open.map((r) => ({ ...r, signalAt: r.signalAt.getTime(), members: r.members, suspectedCause: r.suspectedCause })));
    const saved = await instanceSnapshotsRepository.loadAll(this.db.manager);
    const tracked = saved.tracked.filter((t) => belongs(t.tenantId, t.service));
    this.tracker.restore(tracked, now);
    for (const t of tracked) {
      this.quota.count(t, now);
      if (t.state !== 'stopped') this.lifecycle.noteInstance(t.tenantId, t.service, t.instance);
    }
    for (const r of saved.ruleStates) {
      if (!belongs(r.tenantId, r.service)) continue;
      this.ruleStates.set(instanceKey(r), r);
      this.quota.count(r, now);
      this.lifecycle.noteInstance(r.tenantId, r.service, r.instance);
    }
    // An instance with nothing but an open incident is state too.
    for (const r of open) if (r.instance !== '*') this.quota.count(r, now);

    const from = Math.min(...[...mine].map((p) => checkpoints.get(p)?.snapshotSeq ?? 0));
    let replayed = 0;
    const inMine = (subject: string) => mine.has(partitionOfSubject(subject, this.partitions) ?? -1);
    for await (const { seq, subject, event } of replayHealth(this.nc, from, lastSeq, inMine)) {
      const partition = partitionOfSubject(subject, this.partitions)!;
      const checkpoint = checkpoints.get(partition);
      if (seq <= (checkpoint?.snapshotSeq ?? 0)) continue;
      const pending = this.apply(event, { partition, seq }, seq > (checkpoint?.commandSeq ?? 0));
      if (pending) await pending;
      replayed++;
    }
    this.positions.tookOver(mine, lastSeq);
    detectorMetrics.trackedInstances.set(this.tracker.size);
    this.schedule();
    log.info(
      { partitions: mine.size, owned: this.positions.loadedCount, instances: tracked.length, openIncidents: open.length, replayedEvents: replayed, throughSeq: lastSeq, ms: Date.now() - started },
      'detector took partitions over',
    );
  }

  /** Saves the partitions' state, then forgets it: their new owner loads it from the database. */
  private async release(partitions: number[]): Promise<void> {
    await this.idle();
    const gone = new Set(partitions.filter((p) => this.positions.isLoaded(p)));
    if (gone.size === 0) return;
    await this.writer.settled();
    await this.flushSnapshots();
    const belongs = (tenantId: string, service: string) => gone.has(partitionOf(tenantId, service, this.partitions));
    const instances = this.tracker.forget((ref) => belongs(ref.tenantId, ref.service));
    for (const [key, s] of this.ruleStates) if (belongs(s.tenantId, s.service)) this.ruleStates.delete(key);
    this.writer.forget(belongs);
    this.lifecycle.forgetServices(belongs);
    this.quota.release(belongs);
    this.positions.released(gone);
    detectorMetrics.trackedInstances.set(this.tracker.size);
    log.info({ partitions: gone.size, owned: this.positions.loadedCount, instances }, 'detector handed partitions over');
  }

  /** Resolves when no live event is being applied: state can then be saved or swapped consistently. */
  private async idle(): Promise<void> {
    while (this.handling > 0) await new Promise<void>((wake) => this.idleWaiters.push(wake));
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
    const dueAt = this.timerAt;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.now();
    // Whether the detector was listening while these deadlines passed: a fact about itself that it
    // reports on the hangs it opens; the decision service weighs it (observer-fault.ts).
    const facts: ObserverFacts = { timerLateMs: Math.max(0, now - dueAt), handoverRunning: this.handoverRunning };
    const commands = this.lifecycle.tick(now);
    for (const missed of this.tracker.expire(now)) {
      const { target } = missed;
      const suppressed = inMaintenance(this.rules, target.tenantId, target.service, target.instance, now);
      // In a maintenance window nothing opens; look again after one more window in case it is over.
      if (suppressed) this.tracker.recheckAt(target, now + target.intervalMs * missed.missedIntervals);
      const fault = observerFault(facts, target.intervalMs, this.config.DETECTOR_OBSERVER_LATE_MS);
      if (fault) detectorMetrics.observerFaults.inc({ signal: fault.signal });
      commands.push(...this.lifecycle.apply({ ...missedHeartbeatSignal(missed, suppressed), ...(fault ? { observerFault: fault } : {}) }, now));
    }
    this.writer.execute(commands).catch((error: unknown) => log.error({ err: error }, 'incident commands abandoned (shutdown, or content the database refuses)'));
    this.schedule();
  }

  /**
   * Forgets instances that had no event for DETECTOR_INSTANCE_IDLE_MS, unless they are alive
   * (a deadline still stands: it goes missing first) or have an open incident: their state goes,
   * their saved state is deleted with the next snapshot, and they leave their tenant's instance
   * count. Without it nothing ever left the count but a partition moving away, and a tenant whose
   * instances come and go under new names (pods) would reach its cap for good. At most twice per
   * idle period, and per minute at most once: a pass walks every counted instance.
   */
  private forgetIdle(): void {
    const now = this.now();
    const idleMs = this.config.DETECTOR_INSTANCE_IDLE_MS;
    if (now - this.lastIdleSweep < Math.min(idleMs / 2, 60_000)) return;
    this.lastIdleSweep = now;
    const commands: IncidentCommand[] = [];
    let forgotten = 0;
    for (const ref of this.quota.idleSince(now - idleMs)) {
      if (this.tracker.get(ref)?.state === 'alive' || this.lifecycle.hasOpenFor(ref.tenantId, ref.service, ref.instance)) continue;
      this.tracker.remove(ref);
      const key = instanceKey(ref);
      this.ruleStates.delete(key);
      this.dirtyRules.delete(key);
      this.quota.forget(ref);
      this.forgotten.set(key, ref);
      forgotten++;
      // No incident of its own is open; its service's grouping may change without it.
      commands.push(...this.lifecycle.forgetInstance(ref.tenantId, ref.service, ref.instance, now, 'instance idle'));
    }
    if (forgotten === 0) return;
    detectorMetrics.trackedInstances.set(this.tracker.size);
    log.info({ instances: forgotten, idleMs }, 'detector forgot idle instances');
    if (commands.length > 0) this.writer.execute(commands).catch((error: unknown) => log.error({ err: error }, 'incident commands abandoned (shutdown, or content the database refuses)'));
  }

  /** Saves one instance's rule state now, outside the periodic snapshot (see onMetrics). */
  private async saveRuleState(key: string): Promise<void> {
    const saved = this.ruleStates.get(key);
    if (!saved) return;
    this.dirtyRules.delete(key);
    try {
      await instanceSnapshotsRepository.upsertRuleStates(this.db.manager, [saved]);
    } catch (error) {
      this.dirtyRules.add(key);
      throw error;
    }
    // A cleared state is gone once saved, unless a newer one arrived meanwhile.
    if (saved.state === undefined && this.ruleStates.get(key) === saved) this.ruleStates.delete(key);
  }

  /**
   * Saves what changed since the last save, and with it, per loaded partition, the stream
   * sequence the saved state holds: taken while no live event is being applied, so the state
   * is exactly that of every event up to it.
   */
  private async flushSnapshots(): Promise<void> {
    await this.idle();
    // Mid-takeover the state is partly read: the takeover's end leaves it whole for the next save.
    if (this.takingOver) return;
    this.forgetIdle();
    // An instance forgotten and heard from again since is saved, not deleted.
    const gone = [...this.forgotten.values()].filter((ref) => this.tracker.get(ref) === undefined && !this.ruleStates.has(instanceKey(ref)));
    this.forgotten.clear();
    const dirty = this.tracker.takeDirty();
    const rules: RuleStateSnapshot[] = [];
    for (const key of this.dirtyRules) {
      const s = this.ruleStates.get(key);
      if (s) rules.push(s);
    }
    this.dirtyRules.clear();
    const bySeq = this.positions.checkpoints();
    try {
      await this.db.transaction(async (m) => {
        await instanceSnapshotsRepository.deleteMany(m, gone);
        await instanceSnapshotsRepository.upsertMany(m, dirty);
        for (let from = 0; from < rules.length; from += SNAPSHOT_BATCH) {
          await instanceSnapshotsRepository.upsertRuleStates(m, rules.slice(from, from + SNAPSHOT_BATCH));
        }
        for (const [seq, partitions] of bySeq) await partitionCheckpointsRepository.saveSnapshotSeq(m, this.partitions, partitions, seq);
      });
    } catch (error) {
      log.error({ err: error, instances: dirty.length, ruleStates: rules.length }, 'snapshot failed; will retry with the next one');
      this.tracker.markDirty(dirty);
      for (const s of rules) this.dirtyRules.add(instanceKey(s));
      for (const ref of gone) if (!this.forgotten.has(instanceKey(ref))) this.forgotten.set(instanceKey(ref), ref);
      return;
    }
    // A cleared state is gone once saved, unless a newer one arrived meanwhile.
    for (const s of rules) if (s.state === undefined && this.ruleStates.get(instanceKey(s)) === s) this.ruleStates.delete(instanceKey(s));
  }
}
