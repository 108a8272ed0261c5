import { Inject, Injectable, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Envelope } from '@autoheal/contracts';
import { createLogger } from '@autoheal/telemetry';
import { CLOCK, type Clock } from '../clock.js';
import { DETECTOR_CONFIG } from '../detector.tokens.js';
import type { DetectorConfig } from '../config.js';
import { IncidentsService } from '../incidents/incidents.service.js';
import type { OpenIncidentRow } from '../incidents/incidents.repository.js';
import { instanceSnapshotsRepository } from '../snapshots/instance-snapshots.repository.js';
import { detectorMetrics } from '../detector.metrics.js';
import { HeartbeatTracker, instanceKey, type InstanceRef, type MissedHeartbeat } from './heartbeat-tracker.js';

const log = createLogger('detector');
const OPEN_RETRY_MS = 1_000;

/**
 * Turns heartbeats into incidents. Heartbeats touch memory only; an incident opens when a
 * deadline fires and resolves when the instance speaks again. Database work for one
 * instance runs one at a time, so a heartbeat racing its own incident's opening cannot
 * leave that incident open forever.
 */
@Injectable()
export class DetectionService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly tracker: HeartbeatTracker;
  private readonly openIncidents = new Map<string, OpenIncidentRow>();
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
  ) {
    this.tracker = new HeartbeatTracker(config.DETECTOR_MISSED_INTERVALS);
  }

  async onModuleInit(): Promise<void> {
    const now = this.clock.now().getTime();
    this.tracker.restore(await instanceSnapshotsRepository.loadAll(this.db.manager), now);
    for (const incident of await this.incidents.findOpen()) this.openIncidents.set(instanceKey(incident), incident);
    detectorMetrics.trackedInstances.set(this.tracker.size);
    log.info({ instances: this.tracker.size, openIncidents: this.openIncidents.size }, 'detector state restored');
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

  async onHeartbeat(event: Envelope<'health.heartbeat'>): Promise<void> {
    const now = this.clock.now().getTime();
    // A replayed heartbeat counts from when it was sent, not when we read it; a producer's
    // clock ahead of ours counts as now.
    const seenAt = Math.min(now, Date.parse(event.occurredAt));
    const ref: InstanceRef = { tenantId: event.tenantId, service: event.data.service, instance: event.data.instance };
    const observation = this.tracker.observeHeartbeat(ref, event.data.intervalMs, seenAt);
    if (observation === 'first_seen') detectorMetrics.trackedInstances.set(this.tracker.size);
    this.schedule();
    const open = this.openIncidents.get(instanceKey(ref));
    if (observation === 'recovered' || (open && seenAt > open.signalAt.getTime())) {
      await this.serialize(instanceKey(ref), () => this.resolveIfOpen(ref, seenAt, 'heartbeats resumed'));
    }
  }

  async onStopping(event: Envelope<'health.stopping'>): Promise<void> {
    const ref: InstanceRef = { tenantId: event.tenantId, service: event.data.service, instance: event.data.instance };
    this.tracker.observeStopping(ref);
    this.schedule();
    await this.serialize(instanceKey(ref), () => this.resolveIfOpen(ref, Date.parse(event.occurredAt), 'instance stopped as planned'));
  }

  private async resolveIfOpen(ref: InstanceRef, seenAt: number, reason: string): Promise<void> {
    const key = instanceKey(ref);
    const open = this.openIncidents.get(key);
    if (!open || seenAt <= open.signalAt.getTime()) return;
    await this.incidents.resolve(open, reason);
    this.openIncidents.delete(key);
    detectorMetrics.incidentsResolved.inc();
  }

  private async openFor(missed: MissedHeartbeat): Promise<void> {
    const key = instanceKey(missed.target);
    if (this.openIncidents.has(key)) return;
    try {
      const opened = await this.incidents.openForMissedHeartbeat(missed);
      if (opened) {
        this.openIncidents.set(key, opened);
        detectorMetrics.incidentsOpened.inc({ kind: opened.kind });
        detectorMetrics.detectionLatency.observe(Math.max(0, opened.openedAt.getTime() - missed.deadlineAt) / 1000);
        log.info({ incidentId: opened.incidentId, tenantId: opened.tenantId, instance: opened.instance }, 'incident opened');
      }
    } catch (error) {
      // The instance stays missing in memory; try again shortly rather than lose the incident.
      log.error({ err: error, instance: key }, 'could not open incident; retrying');
      setTimeout(() => {
        if (!this.stopped && this.tracker.get(missed.target)?.state === 'missing') void this.serialize(key, () => this.openFor(missed));
      }, OPEN_RETRY_MS).unref();
    }
  }

  /** One timer, always set for the earliest deadline: O(log n) per heartbeat, nothing per tick. */
  private schedule(): void {
    if (this.stopped) return;
    const next = this.tracker.nextDeadline();
    if (next === undefined || next >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => this.fire(), Math.max(0, next - this.clock.now().getTime()));
  }

  private fire(): void {
    this.timerAt = Number.POSITIVE_INFINITY;
    for (const missed of this.tracker.expire(this.clock.now().getTime())) {
      void this.serialize(instanceKey(missed.target), () => this.openFor(missed));
    }
    this.schedule();
  }

  private serialize<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.queues.set(key, next);
    void next.finally(() => {
      if (this.queues.get(key) === next) this.queues.delete(key);
    }).catch(() => undefined);
    return next;
  }

  private async flushSnapshots(): Promise<void> {
    const dirty = this.tracker.takeDirty();
    if (dirty.length === 0) return;
    try {
      await instanceSnapshotsRepository.upsertMany(this.db.manager, dirty);
    } catch (error) {
      log.error({ err: error, instances: dirty.length }, 'snapshot failed; will retry with the next one');
      this.tracker.markDirty(dirty);
    }
  }
}
