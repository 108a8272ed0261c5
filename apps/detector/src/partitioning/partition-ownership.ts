import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import { createLogger } from '@autoheal/telemetry';
import { systemClock, type Clock } from '../clock.js';
import { MemberLiveness } from './membership.js';
import { assertPartitionCount, DEFAULT_PARTITIONS, partitionOf } from './partition-hash.js';
import { assignPartitions } from './rendezvous.js';

const log = createLogger('detector');

/** The JetStream KV bucket in which every running detector announces itself. */
export const MEMBERS_BUCKET = 'detector_members';
const KV_KEY = /^[-/_=.a-zA-Z0-9]+$/;
const WATCH_RESTART_MS = 500;

export interface PartitionOwnershipOptions {
  /** This detector's id: unique among running detectors, a valid KV key (e.g. host-pid). */
  memberId: string;
  partitions?: number;
  /** How often this detector announces itself. */
  heartbeatMs?: number;
  /** A detector not heard of for this long is dead; also the bucket's max age. Several heartbeats. */
  ttlMs?: number;
  clock?: Clock;
  bucket?: string;
}

export interface OwnershipChange {
  gained: number[];
  lost: number[];
}

/**
 * Which partitions of the fleet this detector owns. Every detector puts its id into a KV
 * bucket each heartbeat and watches the bucket; the live set is whoever was heard of within
 * the TTL, and the owners are the rendezvous assignment over it. Every detector computes the
 * same assignment from the same members without coordination, so in steady state each
 * partition has exactly one owner; a detector that stops deletes its key (its share moves at
 * once), one that dies stops announcing (its share moves after the TTL).
 *
 * A detector that cannot reach NATS stops hearing itself too and gives up its partitions
 * after the TTL, about when the others take them over.
 */
export class PartitionOwnership {
  readonly memberId: string;
  private readonly partitions: number;
  private readonly heartbeatMs: number;
  private readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly bucketName: string;
  private readonly liveness: MemberLiveness;
  private readonly listeners: ((change: OwnershipChange) => void)[] = [];
  private owned = new Set<number>();
  private members: string[] = [];
  private kv: KV | undefined;
  private watcher: Awaited<ReturnType<KV['watch']>> | undefined;
  private watchLoop: Promise<void> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private announcing: Promise<unknown> = Promise.resolve();
  private running = false;
  /** Resolved when this detector first sees its own announcement. */
  private readonly selfSeen: (() => void)[] = [];

  constructor(
    private readonly nc: NatsConnection,
    options: PartitionOwnershipOptions,
  ) {
    if (!KV_KEY.test(options.memberId)) throw new Error(`memberId must match ${KV_KEY.source}, got ${JSON.stringify(options.memberId)}`);
    this.memberId = options.memberId;
    this.partitions = options.partitions ?? DEFAULT_PARTITIONS;
    assertPartitionCount(this.partitions);
    this.heartbeatMs = options.heartbeatMs ?? 1_000;
    this.ttlMs = options.ttlMs ?? 3_000;
    if (this.ttlMs <= this.heartbeatMs) throw new RangeError('ttlMs must be longer than heartbeatMs, or a living detector would flap');
    this.clock = options.clock ?? systemClock;
    this.bucketName = options.bucket ?? MEMBERS_BUCKET;
    this.liveness = new MemberLiveness(this.ttlMs);
  }

  /**
   * Joins: announces itself and watches the others. Resolves once this detector has seen its
   * own announcement, i.e. once ownedPartitions() reflects the members it can see.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    // An existing bucket is bound as it is, so detectors started with another TTL still agree on one bucket.
    this.kv = await new Kvm(this.nc).create(this.bucketName, { ttl: this.ttlMs, history: 1 });
    const joined = new Promise<void>((resolve) => this.selfSeen.push(resolve));
    await this.watch();
    this.announce();
    this.heartbeatTimer = setInterval(() => this.announce(), this.heartbeatMs);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`did not see its own announcement in ${this.bucketName} within ${this.ttlMs} ms`)), this.ttlMs);
    });
    try {
      await Promise.race([joined, timeout]);
    } catch (error) {
      await this.stop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Leaves: stops announcing and deletes its key so the others take over at once. Owns nothing after. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.expiryTimer);
    await this.announcing;
    try {
      if (!this.nc.isClosed()) await this.kv?.delete(this.memberId);
    } catch (error) {
      // The others fall back to the TTL.
      log.warn({ err: error, memberId: this.memberId }, 'could not withdraw from the detector membership');
    }
    this.watcher?.stop();
    await this.watchLoop;
    this.apply([]);
  }

  owns(tenantId: string, service: string): boolean {
    return this.owned.has(partitionOf(tenantId, service, this.partitions));
  }

  ownsPartition(partition: number): boolean {
    return this.owned.has(partition);
  }

  ownedPartitions(): number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  /** The detectors this one currently believes alive, sorted. */
  liveMembers(): string[] {
    return [...this.members];
  }

  /** Called after every change of ownership, lost before gained is acted on by the caller. */
  onChange(listener: (change: OwnershipChange) => void): void {
    this.listeners.push(listener);
  }

  private announce(): void {
    const kv = this.kv;
    // A connection closed for good makes the service exit; nothing to announce until then.
    if (!kv || !this.running || this.nc.isClosed()) return;
    this.announcing = kv.put(this.memberId, JSON.stringify({ memberId: this.memberId, heartbeatMs: this.heartbeatMs })).catch((error: unknown) => {
      log.warn({ err: error, memberId: this.memberId }, 'could not announce detector membership');
    });
  }

  private async watch(): Promise<void> {
    const kv = this.kv!;
    const watcher = await kv.watch();
    this.watcher = watcher;
    this.watchLoop = (async () => {
      try {
        for await (const entry of watcher) this.onEntry(entry);
      } catch (error) {
        log.warn({ err: error }, 'detector membership watch failed');
      }
      if (!this.running || this.nc.isClosed()) return;
      // The watch ended on its own (e.g. the connection closed for good): try again; meanwhile
      // nobody is heard of, so this detector gives up its partitions after the TTL.
      await new Promise((r) => setTimeout(r, WATCH_RESTART_MS));
      if (this.running) await this.watch().catch((error: unknown) => log.warn({ err: error }, 'could not restart the membership watch'));
    })();
  }

  private onEntry(entry: KvWatchEntry): void {
    if (!this.running) return;
    const now = this.clock.now().getTime();
    if (entry.operation === 'PUT') {
      // A replayed entry was written at `created`; a live one just now.
      this.liveness.seen(entry.key, entry.isUpdate ? now : Math.min(now, entry.created.getTime()));
      if (entry.key === this.memberId) this.selfSeen.splice(0).forEach((resolve) => resolve());
    } else {
      this.liveness.left(entry.key);
    }
    this.recompute();
  }

  private recompute(): void {
    if (!this.running) return;
    const now = this.clock.now().getTime();
    const members = this.liveness.live(now);
    this.members = members;
    this.apply(assignPartitions(members, this.partitions).get(this.memberId) ?? []);
    clearTimeout(this.expiryTimer);
    const next = this.liveness.nextExpiry();
    if (next !== undefined) this.expiryTimer = setTimeout(() => this.recompute(), Math.max(0, next - now)).unref();
  }

  private apply(nowOwned: number[]): void {
    const next = new Set(nowOwned);
    const gained = nowOwned.filter((p) => !this.owned.has(p)).sort((a, b) => a - b);
    const lost = [...this.owned].filter((p) => !next.has(p)).sort((a, b) => a - b);
    this.owned = next;
    if (gained.length === 0 && lost.length === 0) return;
    log.info({ memberId: this.memberId, members: this.members, owned: next.size, gained: gained.length, lost: lost.length }, 'detector partitions changed');
    for (const listener of this.listeners) {
      try {
        listener({ gained, lost });
      } catch (error) {
        log.error({ err: error }, 'partition ownership listener failed');
      }
    }
  }
}
