import type { Envelope } from '@autoheal/contracts';
import type { InstanceRef } from './heartbeat-tracker.js';

/**
 * How many instances of each tenant this detector keeps state for (heartbeat deadline, rule
 * windows, snapshots, incidents): at most `maxPerTenant`. An event that would add one more is
 * refused before any state is created; the instances already tracked go on as before. Without
 * it, one tenant announcing 24,500 new names in 10 s grew the state (and the snapshot writes)
 * that every tenant's detection shares.
 *
 * The count is of this detector's partitions (the fleet is partitioned by tenant and service):
 * with several detectors, a tenant whose services fall into partitions of k detectors may track
 * up to k × maxPerTenant in all, and a partition moving in brings its instances with it, counted
 * even when they exceed the cap (they were admitted by their previous owner).
 */
export class InstanceQuota {
  /** Tenant → `<service>.<instance>` → when the instance last had an event (epoch ms). */
  private readonly byTenant = new Map<string, Map<string, number>>();

  constructor(readonly maxPerTenant: number) {
    if (!Number.isInteger(maxPerTenant) || maxPerTenant < 1) throw new Error('maxPerTenant must be a positive integer');
  }

  /** True when the instance is counted already or its tenant has room (it is counted from now on); notes it active at `now`. */
  admit(ref: InstanceRef, now: number): boolean {
    const instances = this.byTenant.get(ref.tenantId);
    const key = memberKey(ref);
    if (instances?.has(key)) {
      instances.set(key, now);
      return true;
    }
    if ((instances?.size ?? 0) >= this.maxPerTenant) return false;
    this.count(ref, now);
    return true;
  }

  /** True when the event would be refused: a new instance of a tenant at its cap. Counts nothing. */
  wouldRefuse(ref: InstanceRef): boolean {
    const instances = this.byTenant.get(ref.tenantId);
    return !(instances?.has(memberKey(ref)) ?? false) && (instances?.size ?? 0) >= this.maxPerTenant;
  }

  /** Counts an instance whatever the cap: state restored from a snapshot exists already. */
  count(ref: InstanceRef, now: number): void {
    let instances = this.byTenant.get(ref.tenantId);
    if (!instances) this.byTenant.set(ref.tenantId, (instances = new Map<string, number>()));
    instances.set(memberKey(ref), now);
  }

  /** Stops counting the instances `belongs` picks (their state was dropped: the partition moved away). */
  release(belongs: (tenantId: string, service: string) => boolean): void {
    for (const [tenantId, instances] of this.byTenant) {
      for (const key of instances.keys()) if (belongs(tenantId, key.slice(0, key.indexOf('.')))) instances.delete(key);
      if (instances.size === 0) this.byTenant.delete(tenantId);
    }
  }

  /** Stops counting one instance (its state was forgotten). */
  forget(ref: InstanceRef): void {
    const instances = this.byTenant.get(ref.tenantId);
    if (instances?.delete(memberKey(ref)) && instances.size === 0) this.byTenant.delete(ref.tenantId);
  }

  /** The instances with no event since `before`: candidates for forgetting. */
  idleSince(before: number): InstanceRef[] {
    const idle: InstanceRef[] = [];
    for (const [tenantId, instances] of this.byTenant) {
      for (const [key, lastActive] of instances) {
        if (lastActive >= before) continue;
        const dot = key.indexOf('.');
        idle.push({ tenantId, service: key.slice(0, dot), instance: key.slice(dot + 1) });
      }
    }
    return idle;
  }

  tracked(tenantId: string): number {
    return this.byTenant.get(tenantId)?.size ?? 0;
  }
}

/** `<service>.<instance>`: subject tokens, so the first dot splits them. */
function memberKey(ref: InstanceRef): string {
  return `${ref.service}.${ref.instance}`;
}

/** An event refused because its tenant tracks as many instances as it may (see InstanceQuota). */
export class InstanceQuotaExceeded extends Error {
  constructor(
    readonly ref: InstanceRef,
    readonly maxPerTenant: number,
  ) {
    super(`tenant ${ref.tenantId} already has ${maxPerTenant} tracked instances (DETECTOR_MAX_INSTANCES_PER_TENANT); instance ${ref.service}/${ref.instance} is not tracked`);
    this.name = 'InstanceQuotaExceeded';
  }
}

/** The instance whose state an event may create; undefined for one that creates none (a planned stop, a non-health event). */
export function instanceStateOf(event: Envelope): InstanceRef | undefined {
  switch (event.type) {
    case 'health.heartbeat':
    case 'health.metrics':
    case 'health.exited':
    case 'health.alert':
      return { tenantId: event.tenantId, service: event.data.service, instance: event.data.instance };
    default:
      return undefined;
  }
}
