import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { createLogger } from '@autoheal/telemetry';
import { AUDITOR_CONFIG } from '../auditor.tokens.js';
import type { AuditorConfig } from '../config.js';
import { auditorDataSource } from '../data-source.js';
import { RetentionService } from './retention.service.js';

const log = createLogger('auditor');

/**
 * Runs the retention pass at boot and every AUDITOR_RETENTION_INTERVAL_MS: partitions created
 * ahead, archives where due, and — only when AUDITOR_MAINTENANCE_DATABASE_URL gives an owner
 * login — drops. One pass at a time; a failed pass is logged and tried again at the next tick.
 */
@Injectable()
export class RetentionTask implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private owner: DataSource | null = null;

  constructor(
    private readonly retention: RetentionService,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // The month an append lands in should exist before the first append (else it goes to the default partition, still recorded).
    try {
      await this.retention.ensurePartitions();
    } catch (error) {
      log.error({ error: String(error) }, 'could not create the audit log’s monthly partitions ahead; appends go to the default partition until a pass does');
    }
    const intervalMs = this.config.AUDITOR_RETENTION_INTERVAL_MS;
    if (intervalMs <= 0) return;
    if (!this.config.AUDITOR_MAINTENANCE_DATABASE_URL) log.warn('AUDITOR_MAINTENANCE_DATABASE_URL is not set: audit partitions past retention are archived but not dropped');
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
    void this.tick();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    if (this.owner?.isInitialized) await this.owner.destroy();
  }

  private tick(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<void> {
    try {
      const owner = await this.ownerConnection();
      for (const outcome of await this.retention.run({ owner: owner ?? undefined })) {
        if (outcome.problem) log.warn({ ...outcome }, 'audit retention: a partition could not go further');
        else if (outcome.archived.length > 0 || outcome.dropped !== null) log.info({ ...outcome }, 'audit retention');
      }
    } catch (error) {
      log.error({ error: String(error) }, 'the audit retention pass failed; it runs again at the next interval');
    }
  }

  private async ownerConnection(): Promise<DataSource | null> {
    const url = this.config.AUDITOR_MAINTENANCE_DATABASE_URL;
    if (!url) return null;
    if (!this.owner) {
      this.owner = auditorDataSource(url);
      await this.owner.initialize();
    }
    return this.owner;
  }
}
