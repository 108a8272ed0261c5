import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { DataSource, type EntityManager } from 'typeorm';
import { encodeApiKeyGrant } from '@autoheal/access';
import { API_KEYS_BUCKET, NATS_CONNECTION } from '@autoheal/messaging';
import { createLogger } from '@autoheal/telemetry';
import { AUDITOR_CONFIG } from '../auditor.tokens.js';
import { CLOCK, type Clock } from '../clock.js';
import type { AuditorConfig } from '../config.js';
import { grantOf, reconcilePlan } from './api-key-records.js';
import { apiKeysRepository as repo, type ApiKeyRow } from './api-keys.repository.js';

const log = createLogger('auditor');

/** One lock for every writer of the bucket, across auditor replicas: a reconciliation never puts back a key a revoke just removed. */
const BUCKET_LOCK = `SELECT pg_advisory_xact_lock(hashtext('autoheal.api_keys_bucket'))`;

/**
 * The API_KEYS bucket the decision service watches: key = the key's sha256, value = its grant
 * (no secret). The auditor is its only writer (nats-permissions.ts) and its database the source
 * of truth: at boot, and every AUDITOR_API_KEYS_RECONCILE_MS, the bucket is made to hold exactly
 * the keys that are neither revoked nor expired.
 */
@Injectable()
export class ApiKeysBucket implements OnApplicationBootstrap, OnModuleDestroy {
  private kv: KV | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reconciling = false;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly db: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // File storage, one value per key: the bucket survives a nats-server restart, and no old grant lingers in history.
    this.kv = await new Kvm(this.nc).create(API_KEYS_BUCKET, { history: 1 });
    await this.reconcile();
    const every = this.config.AUDITOR_API_KEYS_RECONCILE_MS;
    if (every > 0) {
      this.timer = setInterval(() => void this.reconcileInBackground(), every);
      this.timer.unref();
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Takes the bucket's lock in the caller's transaction; every change below must run under it. */
  async lock(m: EntityManager): Promise<void> {
    await m.query(BUCKET_LOCK);
  }

  async put(row: ApiKeyRow): Promise<void> {
    await this.bucket().put(row.keyHash, encodeApiKeyGrant(grantOf(row)));
  }

  async remove(keyHash: string): Promise<void> {
    await this.bucket().delete(keyHash);
  }

  /** Makes the bucket hold exactly the active keys; returns what it changed. */
  async reconcile(): Promise<{ put: number; removed: number }> {
    return this.db.transaction(async (m) => {
      await this.lock(m);
      const active = await repo.active(m, this.clock.now());
      const inBucket: string[] = [];
      for await (const key of await this.bucket().keys()) inBucket.push(key);
      const plan = reconcilePlan(active, inBucket);
      for (const row of plan.put) await this.put(row);
      for (const hash of plan.remove) await this.remove(hash);
      if (plan.remove.length > 0) log.info({ removed: plan.remove.length }, 'API_KEYS bucket: removed keys that are revoked, expired or unknown');
      return { put: plan.put.length, removed: plan.remove.length };
    });
  }

  private async reconcileInBackground(): Promise<void> {
    if (this.reconciling) return;
    this.reconciling = true;
    try {
      await this.reconcile();
    } catch (error) {
      log.error({ err: error }, 'API_KEYS bucket reconciliation failed; retrying next interval');
    } finally {
      this.reconciling = false;
    }
  }

  private bucket(): KV {
    if (!this.kv) throw new Error('the API_KEYS bucket is not open yet');
    return this.kv;
  }
}
