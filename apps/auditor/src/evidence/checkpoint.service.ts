import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { signPoint, type SignedPoint } from '@autoheal/evidence';
import { publicKeyToBase64 } from '@autoheal/security';
import { createLogger } from '@autoheal/telemetry';
import { auditorMetrics } from '../auditor.metrics.js';
import { AUDITOR_CONFIG } from '../auditor.tokens.js';
import { CLOCK, type Clock } from '../clock.js';
import type { AuditorConfig } from '../config.js';
import { AuditLogError, AuditLogErrorCode } from '../audit-log/audit-log.errors.js';
import { auditLogRepository } from '../audit-log/audit-log.repository.js';
import { CheckpointFileSink } from './checkpoint-file-sink.js';
import { CheckpointStream } from './checkpoint-stream.js';
import { ROW_SEALER, type RowSealer } from './row-sealer.js';
import { signedPointsRepository as points } from './signed-points.repository.js';

/** Where a checkpoint was kept: the database always; the stream and the file sink when they took it (null: no file sink configured). */
export interface CheckpointSinks {
  database: true;
  stream: boolean;
  file: boolean | null;
}

export interface CheckpointResult {
  checkpoint: SignedPoint;
  /** False when the head had a checkpoint already (nothing was signed). */
  created: boolean;
  sinks: CheckpointSinks | null;
}

/**
 * Signs each tenant's chain head (a checkpoint) on a cadence — after AUDITOR_CHECKPOINT_EVERY_ROWS
 * rows appended by this process, and every AUDITOR_CHECKPOINT_EVERY_SECONDS for a tenant whose
 * chain grew — and on demand (POST …/audit/checkpoints). Each checkpoint goes to the database,
 * the AUDIT_CHECKPOINTS stream and the file sink. At boot, the key it signs with is recorded in
 * the key history in all three places the first time it is used.
 */
@Injectable()
export class CheckpointService implements OnApplicationBootstrap, OnApplicationShutdown {
  /** One checkpoint at a time per tenant. */
  private readonly running = new Map<string, Promise<CheckpointResult>>();
  private timer: NodeJS.Timeout | null = null;
  private readonly log = createLogger('auditor');

  constructor(
    private readonly db: DataSource,
    @Inject(ROW_SEALER) private readonly sealer: RowSealer,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
    private readonly stream: CheckpointStream,
    private readonly file: CheckpointFileSink,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.announceKey();
    this.sealer.onAppended((tenantId, rows) => {
      if (rows >= this.config.AUDITOR_CHECKPOINT_EVERY_ROWS) this.inBackground(tenantId);
    });
    this.timer = setInterval(() => {
      for (const tenantId of this.sealer.tenantsWithAppends()) this.inBackground(tenantId);
    }, this.config.AUDITOR_CHECKPOINT_EVERY_SECONDS * 1000);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.running.values()]);
  }

  /** Signs the tenant's head unless it has a checkpoint already; a tenant without a chain is refused (no_chain). */
  checkpoint(tenantId: string): Promise<CheckpointResult> {
    const previous = this.running.get(tenantId) ?? Promise.resolve(null);
    const next = previous.catch(() => null).then(() => this.checkpointOnce(tenantId));
    this.running.set(tenantId, next);
    void next.finally(() => {
      if (this.running.get(tenantId) === next) this.running.delete(tenantId);
    }).catch(() => undefined);
    return next;
  }

  private inBackground(tenantId: string): void {
    if (this.running.has(tenantId)) return;
    this.checkpoint(tenantId).catch((error: unknown) => this.log.error({ tenantId, error: String(error) }, 'checkpoint failed'));
  }

  private async checkpointOnce(tenantId: string): Promise<CheckpointResult> {
    // Rows appended from here on count toward the next checkpoint.
    this.sealer.resetCount(tenantId);
    const made = await this.db.transaction(async (m) => {
      await auditLogRepository.setScope(m, { kind: 'tenant', tenantId }, tenantId);
      const head = await auditLogRepository.head(m, tenantId);
      if (!head) throw new AuditLogError(AuditLogErrorCode.NoChain, `tenant ${tenantId} has no audit chain`);
      const latest = await points.latestCheckpoint(m, tenantId);
      if (latest && latest.seq >= head.seq) return { checkpoint: latest, created: false };
      const checkpoint = signPoint('checkpoint', this.sealer.key, { tenantId, seq: head.seq, headHash: head.hash, signedAt: this.clock.now().toISOString() });
      if (await points.insertCheckpoint(m, checkpoint)) return { checkpoint, created: true };
      // Another replica signed this head first: that one is the checkpoint.
      return { checkpoint: (await points.checkpointAt(m, tenantId, head.seq)) ?? checkpoint, created: false };
    });
    if (!made.created) return { ...made, sinks: null };
    auditorMetrics.checkpoints.inc();
    return { ...made, sinks: await this.keepOutside(made.checkpoint) };
  }

  /** The stream and the file sink, each on its own: one failing does not keep the checkpoint from the other. */
  private async keepOutside(checkpoint: SignedPoint): Promise<CheckpointSinks> {
    const [stream, file] = await Promise.allSettled([this.stream.publishCheckpoint(checkpoint), this.file.appendCheckpoint(checkpoint)]);
    if (stream.status === 'rejected') this.sinkFailed('stream', checkpoint, stream.reason);
    if (file.status === 'rejected') this.sinkFailed('file', checkpoint, file.reason);
    return { database: true, stream: stream.status === 'fulfilled', file: file.status === 'fulfilled' ? (file.value ? true : null) : false };
  }

  private sinkFailed(sink: 'stream' | 'file', checkpoint: SignedPoint, reason: unknown): void {
    auditorMetrics.checkpointSinkFailures.inc({ sink });
    this.log.error({ sink, tenantId: checkpoint.tenantId, seq: checkpoint.seq, error: String(reason) }, 'a checkpoint was not kept outside the database');
  }

  /** Records the signing key in the history (database, stream, file) the first time this key is used. */
  private async announceKey(): Promise<void> {
    const key = { keyId: this.sealer.key.keyId, publicKey: publicKeyToBase64(this.sealer.key.publicKey), firstUsedAt: this.clock.now().toISOString() };
    const isNew = await this.db.transaction((m) => points.recordKey(m, key));
    const announced = await this.stream.announcedKey(key.keyId).catch(() => null);
    if (!announced) await this.stream.publishKey(key);
    if (isNew) await this.file.appendKey(key);
  }
}
