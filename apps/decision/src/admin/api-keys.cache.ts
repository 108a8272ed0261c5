import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeApiKeyGrant, type ApiKeyGrant } from '@autoheal/access';
import { API_KEYS_BUCKET, NATS_CONNECTION } from '@autoheal/messaging';
import { createLogger } from '@autoheal/telemetry';

const log = createLogger('decision');

/** How long to wait before looking for the bucket again while the auditor has not created it yet. */
const RETRY_MS = 2_000;

/**
 * People's API keys as the auditor publishes them: the API_KEYS bucket watched into memory
 * (key's sha256 → grant). The decision service never reads the auditor's schema; a revoke reaches
 * it as a delete in the bucket, typically within milliseconds. Until the bucket exists (the
 * auditor creates it at boot) the map is empty: only the bootstrap key and OIDC tokens work.
 * This service may read and watch the bucket, never write it (nats-permissions.ts).
 */
@Injectable()
export class ApiKeysCache implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly grants = new Map<string, ApiKeyGrant>();
  private watcher: Awaited<ReturnType<KV['watch']>> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private warned = false;

  constructor(@Inject(NATS_CONNECTION) private readonly nc: NatsConnection) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.start();
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.watcher?.stop();
  }

  get(keyHash: string): ApiKeyGrant | undefined {
    return this.grants.get(keyHash);
  }

  get size(): number {
    return this.grants.size;
  }

  private async start(): Promise<void> {
    if (this.stopped) return;
    try {
      const kv = await new Kvm(this.nc).open(API_KEYS_BUCKET);
      // Current values first, then every change; deletes included.
      const watcher = await kv.watch();
      this.watcher = watcher;
      if (this.warned) log.info({ bucket: API_KEYS_BUCKET }, 'API_KEYS bucket found; watching people’s keys');
      this.warned = false;
      void this.consume(watcher);
    } catch (error) {
      // Said once: until the auditor has created the bucket, this repeats every RETRY_MS.
      if (!this.warned) log.warn({ err: error, bucket: API_KEYS_BUCKET }, 'API_KEYS bucket not available yet (the auditor creates it); only the bootstrap key and OIDC work until then');
      this.warned = true;
      this.retry = setTimeout(() => void this.start(), RETRY_MS);
      this.retry.unref();
    }
  }

  private async consume(watcher: Awaited<ReturnType<KV['watch']>>): Promise<void> {
    try {
      for await (const entry of watcher) this.apply(entry);
    } catch (error) {
      log.warn({ err: error }, 'API_KEYS watch failed');
    }
    // The watch ended (e.g. the bucket was deleted): keys may have changed unseen, so forget them and start again.
    if (!this.stopped) {
      this.grants.clear();
      this.retry = setTimeout(() => void this.start(), RETRY_MS);
      this.retry.unref();
    }
  }

  private apply(entry: KvWatchEntry): void {
    if (entry.operation !== 'PUT') {
      this.grants.delete(entry.key);
      return;
    }
    const decoded = decodeApiKeyGrant(entry.string());
    if (decoded.ok) this.grants.set(entry.key, decoded.grant);
    else {
      // A malformed entry grants nothing.
      this.grants.delete(entry.key);
      log.error({ key: entry.key, problem: decoded.message }, 'malformed grant in the API_KEYS bucket; ignored');
    }
  }
}
